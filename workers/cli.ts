/**
 * The command line: `webvm-x86 run` boots a kernel on the PC machine (workers/pc-machine.ts)
 * under worker_threads, with COM1 on stdin/stdout, and exits with the guest's fate as its status.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseGuestManifest } from "./boot/guest-manifest";
import { loadCore, spawnChipset, spawnUart, spawnVcpu } from "./node-host";
import { DEFAULT_MEMORY_BYTES, PcMachine, type MachineFate } from "./pc-machine";

const USAGE = `usage: webvm-x86 run [--kernel FILE] [--initrd FILE] [--cmdline TEXT] [--memory SIZE] [--self-decompress]

Boots a Linux bzImage on an x86 PC with its serial console (COM1) on stdin/stdout.
Without --kernel it boots the cached default guest (guest/default.json; make it with
"npm run guest:fetch"). SIZE is bytes or a number with K, M or G (default ${DEFAULT_MEMORY_BYTES >> 20}M).
The loader unpacks an XZ-compressed kernel itself; --self-decompress leaves that to the kernel
(much slower under the interpreter, but the kernel then applies KASLR). In a terminal, Ctrl-A
then X quits.

Exit status: 0 the guest powered off, 2 it reset (reboot), 3 triple fault, 4 the CPU
core met something it cannot run, 5 the guest's kernel panicked, 1 an error on this side.`;

/** Exit statuses by fate. */
export const FATE_STATUS: Readonly<Record<MachineFate["reason"], number>> = { "power-off": 0, reset: 2, "triple-fault": 3, failed: 4, panic: 5, stopped: 0 };

const CTRL_A = 0x01;

class UsageError extends Error {}

/** "128M", "1G", "65536K" or a byte count. */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!match) throw new UsageError(`--memory: "${text}" is not a size (say 128M or 1G)`);
  return Number(match[1]) * 1024 ** " KMG".indexOf((match[2] || " ").toUpperCase());
}

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UsageError(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

interface BootFiles { kernel: Uint8Array; initrd?: Uint8Array; vmlinux?: Uint8Array; cmdline: string }

/** The files to boot: from the options, else from the cached default guest. */
function bootFiles(options: { kernel?: string; initrd?: string; cmdline?: string }): BootFiles {
  if (options.kernel) {
    return {
      kernel: readInput(options.kernel, "kernel"),
      initrd: options.initrd ? readInput(options.initrd, "initrd") : undefined,
      cmdline: options.cmdline ?? "console=ttyS0",
    };
  }
  const manifestUrl = new URL("../guest/default.json", import.meta.url);
  let text: string;
  try {
    text = readFileSync(manifestUrl, "utf8");
  } catch {
    throw new UsageError(`no --kernel given and no cached guest at ${manifestUrl.pathname}: run "npm run guest:fetch", or pass --kernel and --initrd`);
  }
  const manifest = parseGuestManifest(JSON.parse(text));
  return {
    kernel: readInput(new URL(manifest.kernel, manifestUrl).pathname, "kernel"),
    initrd: readInput(options.initrd ?? new URL(manifest.initrd, manifestUrl).pathname, "initrd"),
    // Only a speed-up: without it (or if it is stale) the loader unpacks the kernel's payload.
    vmlinux: manifest.vmlinux && existsSync(new URL(manifest.vmlinux, manifestUrl)) ? readInput(new URL(manifest.vmlinux, manifestUrl).pathname, "vmlinux") : undefined,
    cmdline: options.cmdline ?? manifest.cmdline,
  };
}

/**
 * Carries stdin to the guest. A terminal goes raw, so keys reach the guest as typed (Ctrl-C
 * included); Ctrl-A X asks to quit, Ctrl-A Ctrl-A sends one Ctrl-A.
 */
function attachStdin(machine: PcMachine, quit: () => void): () => void {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  let escaped = false;
  const onData = (chunk: Buffer): void => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (raw && escaped) {
        escaped = false;
        if (byte === 0x78 || byte === 0x58) return quit();
        if (byte === CTRL_A) out.push(byte);
      } else if (raw && byte === CTRL_A) {
        escaped = true;
      } else {
        out.push(byte);
      }
    }
    if (out.length > 0) machine.writeConsole(Uint8Array.from(out));
  };
  stdin.on("data", onData);
  return () => {
    stdin.off("data", onData);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  };
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { kernel: { type: "string" }, initrd: { type: "string" }, cmdline: { type: "string" }, memory: { type: "string" }, "self-decompress": { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const files = bootFiles(values);
  const machine = await PcMachine.create({
    core: await loadCore(),
    spawnVcpu,
    spawnUart,
    spawnChipset,
    ...files,
    memoryBytes: values.memory ? parseSize(values.memory) : undefined,
    selfDecompress: values["self-decompress"],
    onConsoleOutput: (bytes) => process.stdout.write(bytes),
  });
  process.stderr.write(`webvm-x86: ${machine.placement.kernelPath.note}\n`);
  const detach = attachStdin(machine, () => void machine.destroy());
  const fate = await machine.run();
  detach();
  await machine.destroy();
  if (fate.reason === "failed") process.stderr.write(`\nwebvm-x86: ${fate.message}\n`);
  else if (fate.reason !== "stopped") process.stderr.write(`\nwebvm-x86: the guest ended: ${fate.reason}\n`);
  return FATE_STATUS[fate.reason];
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "run") return await run(rest);
    console.error(command === undefined || command === "--help" ? USAGE : `webvm-x86: unknown command "${command}"\n\n${USAGE}`);
    return command === undefined || command === "--help" ? 0 : 1;
  } catch (error) {
    console.error(`webvm-x86: ${error instanceof UsageError || error instanceof RangeError ? error.message : String((error as Error).stack ?? error)}`);
    return 1;
  }
}
