/**
 * The host side of the differential test: builds the native runner (native/runner.c + .S) with
 * the host's gcc into build/diff/ when its sources or the case format changed, and runs batches
 * of cases through it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as format from "./case-format";
import {
  CASE_CODE, CASE_CODE_LEN_U32, CASE_DATA, CASE_EFLAGS_U32, CASE_FLAGS_U32, CASE_FLAG_SEG16, CASE_REGS_U32, CASE_SIZE,
  DATA_SIZE, FORMAT_MAGIC, IN_CASE_SIZE_U32, IN_HEADER_SIZE, IN_MAGIC_U32, OUT_HEADER_SIZE, OUT_MAGIC_U32,
  OUT_SELECTORS_U32, RES_CR2_U32, RES_DATA, RES_EFLAGS_U32, RES_EIP_U32, RES_ERROR_CODE_U32, RES_REGS_U32,
  RES_SIGNAL_U32, RES_SIZE, RES_VECTOR_U32, type DiffCase, type MachineResult,
} from "./case-format";

const SOURCES = ["runner.c", "runner.S"].map((f) => fileURLToPath(new URL(`native/${f}`, import.meta.url)));
const OUT_DIR = fileURLToPath(new URL("../../build/diff/", import.meta.url));
const RUNNER = `${OUT_DIR}runner`;
const CFLAGS = [
  "-m32", "-nostdlib", "-static", "-ffreestanding", "-O2", "-fno-pie", "-no-pie", "-fno-stack-protector",
  "-mgeneral-regs-only", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra",
];

const SIGNAL_NAMES: Readonly<Record<number, string>> = { 4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV" };

/** The host's selectors in the core's segment order ES CS SS DS FS GS (FS and GS: the DATA segment). */
export type HostSelectors = readonly [number, number, number, number, number, number];

/** A batch's results and the selectors the runner's segments had. */
export interface NativeBatch { selectors: HostSelectors; results: MachineResult[] }

/** The case format as C `#define`s: every numeric export of case-format.ts. */
function formatHeader(): string {
  const lines = Object.entries(format)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, value]) => `#define ${name} 0x${(value >>> 0).toString(16)}u`);
  return `/* Generated from test/diff/case-format.ts by test/diff/native.ts. */\n${lines.join("\n")}\n`;
}

/**
 * Builds the runner unless a build from the same sources, format and flags exists; returns its
 * path. The key is a content hash, so an edit in any input rebuilds it.
 */
export function buildRunner(): string {
  const header = formatHeader();
  const key = createHash("sha256").update(header).update(CFLAGS.join(" "));
  for (const file of SOURCES) key.update(readFileSync(file));
  const digest = key.digest("hex");
  const keyFile = `${RUNNER}.key`;
  if (existsSync(RUNNER) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === digest) return RUNNER;
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}case-format.h`, header);
  const temp = `${RUNNER}.${process.pid}.tmp`;
  const gcc = spawnSync("gcc", [...CFLAGS, "-I", OUT_DIR, ...SOURCES, "-o", temp], { encoding: "utf8" });
  if (gcc.status !== 0) throw new Error(`building the native runner failed:\n${gcc.stderr || gcc.error}`);
  renameSync(temp, RUNNER);
  writeFileSync(keyFile, digest);
  return RUNNER;
}

/** Encodes a batch of cases in the runner's input format. */
export function encodeCases(cases: readonly DiffCase[]): Buffer {
  const out = Buffer.alloc(IN_HEADER_SIZE + cases.length * CASE_SIZE);
  out.writeUInt32LE(FORMAT_MAGIC, IN_MAGIC_U32);
  out.writeUInt32LE(CASE_SIZE, IN_CASE_SIZE_U32);
  cases.forEach((c, i) => {
    const at = IN_HEADER_SIZE + i * CASE_SIZE;
    out.writeUInt32LE(c.code.length, at + CASE_CODE_LEN_U32);
    out.writeUInt32LE(c.seg16 ? CASE_FLAG_SEG16 : 0, at + CASE_FLAGS_U32);
    out.writeUInt32LE(c.eflags >>> 0, at + CASE_EFLAGS_U32);
    c.regs.forEach((v, r) => out.writeUInt32LE(v, at + CASE_REGS_U32 + r * 4));
    out.set(c.code, at + CASE_CODE);
    out.set(c.data, at + CASE_DATA);
  });
  return out;
}

/** Decodes the runner's output for `count` cases. */
export function decodeResults(out: Buffer, count: number): NativeBatch {
  if (out.length !== OUT_HEADER_SIZE + count * RES_SIZE || out.readUInt32LE(OUT_MAGIC_U32) !== FORMAT_MAGIC) {
    throw new Error(`native runner returned ${out.length} bytes for ${count} cases`);
  }
  const selectors = [0, 1, 2, 3, 4, 5].map((i) => out.readUInt32LE(OUT_SELECTORS_U32 + i * 4)) as unknown as HostSelectors;
  const results = Array.from({ length: count }, (_, i): MachineResult => {
    const at = OUT_HEADER_SIZE + i * RES_SIZE;
    const signal = out.readUInt32LE(at + RES_SIGNAL_U32);
    const vector = out.readUInt32LE(at + RES_VECTOR_U32);
    const hex = (offset: number): string => `0x${out.readUInt32LE(at + offset).toString(16)}`;
    const detail = `${SIGNAL_NAMES[signal] ?? `signal ${signal}`}, error code ${hex(RES_ERROR_CODE_U32)}, cr2 ${hex(RES_CR2_U32)}`;
    return {
      end: signal === 0 ? { kind: "done" } : { kind: "exception", vector, detail },
      eip: out.readUInt32LE(at + RES_EIP_U32),
      eflags: out.readUInt32LE(at + RES_EFLAGS_U32),
      regs: Uint32Array.from({ length: 8 }, (_, r) => out.readUInt32LE(at + RES_REGS_U32 + r * 4)),
      data: new Uint8Array(out.buffer, out.byteOffset + at + RES_DATA, DATA_SIZE),
    };
  });
  return { selectors, results };
}

/** Runs a batch on the host CPU. */
export function runNative(cases: readonly DiffCase[]): Promise<NativeBatch> {
  const runner = buildRunner();
  return new Promise((resolve, reject) => {
    const child = spawn(runner, [], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`native runner exited with ${signal ?? code}: ${Buffer.concat(err).toString()}`));
        return;
      }
      try {
        resolve(decodeResults(Buffer.concat(out), cases.length));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(encodeCases(cases));
  });
}
