/**
 * Boot figures for `npm run bench`: the cached default guest (guest/default.json) booted to its
 * shell prompt by the command line's machine in Node and by the page in headless Chromium, and,
 * when ../shared/tools/v86-boot exists, by v86 in the same browser, as the anchor to compare with.
 * Each figure: wall seconds from start to the prompt, guest instructions, and device accesses
 * and exits per second by kind over the boot.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { createServer } from "vite";
import { parseGuestManifest, type GuestManifest } from "../workers/boot/guest-manifest";
import { GUEST_READY_MARKER } from "../workers/boot/initramfs";
import { loadCore, spawnChipset, spawnUart, spawnVcpu } from "../workers/node-host";
import { PcMachine } from "../workers/pc-machine";
import type { VcpuStats } from "../workers/vcpu";

/** What one boot measured. */
export interface BootFigures {
  boot_to_shell_s: number;
  instructions: number;
  /**
   * Per second of boot: device accesses answered by device workers (sync) or posted, exits to the
   * owner, HLT sleeps; and reads served from register files (shadow), which leave nothing.
   */
  exits_per_s: { pio_sync: number; pio_posted: number; mmio_sync: number; mmio_posted: number; owner: number; halts: number; pio_shadow: number; mmio_shadow: number };
  /** Hot blocks compiled to WASM during the boot, and the vCPU thread's milliseconds spent compiling them. */
  compiled_blocks: number;
  compile_ms: number;
}

const MANIFEST = new URL("../guest/default.json", import.meta.url);
const V86_BOOT = new URL("../../shared/tools/v86-boot", import.meta.url);
/** Longest a boot may take before the bench gives up on it. */
const BOOT_TIMEOUT_MS = 900_000;
/** The shell is up: /init's marker, then busybox's prompt. */
const SHELL_UP = new RegExp(`${GUEST_READY_MARKER}[\\s\\S]*/root # `);

const round = (value: number): number => Number(value.toPrecision(4));

function figures(seconds: number, stats: VcpuStats): BootFigures {
  const rate = (count: number): number => round(count / seconds);
  return {
    boot_to_shell_s: round(seconds),
    instructions: stats.instructions,
    exits_per_s: {
      pio_sync: rate(stats.pioSync),
      pio_posted: rate(stats.pioPosted),
      mmio_sync: rate(stats.mmioSync),
      mmio_posted: rate(stats.mmioPosted),
      owner: rate(stats.ownerExits),
      halts: rate(stats.halts),
      pio_shadow: rate(stats.pioShadow),
      mmio_shadow: rate(stats.mmioShadow),
    },
    compiled_blocks: stats.compiledBlocks,
    compile_ms: round(stats.compileMs),
  };
}

/** The cached guest, or why the boot figures cannot be measured. */
export function cachedGuest(): GuestManifest | string {
  if (!existsSync(MANIFEST)) return "no cached guest: run npm run guest:fetch";
  return parseGuestManifest(JSON.parse(readFileSync(MANIFEST, "utf8")));
}

const guestPath = (file: string): string => fileURLToPath(new URL(file, MANIFEST));

/** Boots the cached guest on the PC machine under worker_threads, as the command line does. */
export async function bootNode(guest: GuestManifest): Promise<BootFigures> {
  let console = "";
  const started = performance.now();
  let shellUp: () => void = () => undefined;
  const up = new Promise<void>((resolve) => (shellUp = resolve));
  const machine = await PcMachine.create({
    core: await loadCore(),
    spawnVcpu,
    spawnUart,
    spawnChipset,
    kernel: new Uint8Array(readFileSync(guestPath(guest.kernel))),
    initrd: new Uint8Array(readFileSync(guestPath(guest.initrd))),
    cmdline: guest.cmdline,
    onConsoleOutput: (bytes) => {
      console += Buffer.from(bytes).toString("latin1");
      if (SHELL_UP.test(console)) shellUp();
    },
  });
  try {
    const fate = machine.run();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no shell within ${BOOT_TIMEOUT_MS / 1000} s:\n${console.slice(-1000)}`)), BOOT_TIMEOUT_MS).unref());
    const ended = fate.then((end) => Promise.reject(new Error(`the guest ended before its shell: ${end.reason}\n${console.slice(-1000)}`)));
    await Promise.race([up, timeout, ended]);
    return figures((performance.now() - started) / 1000, machine.stats());
  } finally {
    await machine.destroy();
  }
}

/** Boots the cached guest in the project's page (vite.config.ts, served by a Vite dev server) in `browser`. */
export async function bootChromium(browser: Browser): Promise<BootFigures> {
  const server = await createServer({
    configFile: fileURLToPath(new URL("../vite.config.ts", import.meta.url)),
    logLevel: "warn",
    clearScreen: false,
    server: { host: "127.0.0.1", port: 0, hmr: false },
  });
  try {
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error("the Vite dev server reports no local URL");
    const page = await browser.newPage();
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction((pattern) => new RegExp(pattern).test(window.vmConsoleText() + " "), SHELL_UP.source, { timeout: BOOT_TIMEOUT_MS, polling: 250 });
    const seconds = (Date.now() - started) / 1000;
    const stats = await page.evaluate(() => window.vmStats());
    if (!stats) throw new Error("the page reports no machine");
    await page.close();
    return figures(seconds, stats);
  } finally {
    await server.close();
  }
}

/** v86's boot of the same guest to the same marker, in the same browser: {"v86_boot_s": N}, or why not. */
export async function bootV86(guest: GuestManifest): Promise<{ v86_boot_s: number } | string> {
  if (!existsSync(V86_BOOT)) return `no ${fileURLToPath(V86_BOOT)}`;
  const { stdout } = await promisify(execFile)(fileURLToPath(V86_BOOT), [guestPath(guest.kernel), guestPath(guest.initrd), GUEST_READY_MARKER, guest.cmdline], { timeout: BOOT_TIMEOUT_MS });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { v86_boot_s: number };
}
