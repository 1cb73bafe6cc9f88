/**
 * The host side of the x87 differential test: builds the native runner (native/runner.c + .S)
 * with the host's gcc into build/x87/ when its sources or the format changed, and runs batches
 * of cases through it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as format from "./format";
import {
  CASE_CODE, CASE_CODE_LEN_U32, CASE_EAX_U32, CASE_EFLAGS_U32, CASE_SIZE, CASE_WINDOW, FORMAT_MAGIC, IN_CASE_SIZE_U32,
  IN_HEADER_SIZE, IN_MAGIC_U32, OUT_HEADER_SIZE, OUT_MAGIC_U32, OUT_SELECTORS_U32, RES_EAX_U32, RES_EFLAGS_U32,
  RES_EIP_U32, RES_SIGNAL_U32, RES_SIZE, RES_VECTOR_U32, RES_WINDOW, WINDOW_SIZE,
} from "./format";

const SOURCES = ["runner.c", "runner.S"].map((f) => fileURLToPath(new URL(`native/${f}`, import.meta.url)));
const OUT_DIR = fileURLToPath(new URL("../../build/x87/", import.meta.url));
const RUNNER = `${OUT_DIR}runner`;
const CFLAGS = [
  "-m32", "-nostdlib", "-static", "-ffreestanding", "-O2", "-fno-pie", "-no-pie", "-fno-stack-protector",
  "-mgeneral-regs-only", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra", "-Werror",
];

/** One x87 case: the code page's bytes (FRSTOR ... FNSAVE), EFLAGS and EAX, the DATA window. */
export interface X87Case {
  code: Uint8Array;
  eflags: number;
  eax: number;
  window: Uint8Array;
}

/** How a case ended and what it left. `vector` and `eip` are set after a fault. */
export interface X87Result {
  fault?: { vector: number; eip: number; detail: string };
  eflags: number;
  eax: number;
  window: Uint8Array;
}

/** The host's selectors in the core's order ES CS SS DS. */
export type HostSelectors = readonly [number, number, number, number];

const SIGNAL_NAMES: Readonly<Record<number, string>> = { 4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV" };

function formatHeader(): string {
  const lines = Object.entries(format)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, value]) => `#define ${name} 0x${(value >>> 0).toString(16)}u`);
  return `/* Generated from test/x87/format.ts by test/x87/native.ts. */\n${lines.join("\n")}\n`;
}

/** Builds the runner unless a build from the same sources, format and flags exists; returns its path. */
export function buildRunner(): string {
  const header = formatHeader();
  const key = createHash("sha256").update(header).update(CFLAGS.join(" "));
  for (const file of SOURCES) key.update(readFileSync(file));
  const digest = key.digest("hex");
  const keyFile = `${RUNNER}.key`;
  if (existsSync(RUNNER) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === digest) return RUNNER;
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}format.h`, header);
  const temp = `${RUNNER}.${process.pid}.tmp`;
  const gcc = spawnSync("gcc", [...CFLAGS, "-I", OUT_DIR, ...SOURCES, "-o", temp], { encoding: "utf8" });
  if (gcc.status !== 0) throw new Error(`building the x87 native runner failed:\n${gcc.stderr || gcc.error}`);
  renameSync(temp, RUNNER);
  writeFileSync(keyFile, digest);
  return RUNNER;
}

function encodeCases(cases: readonly X87Case[]): Buffer {
  const out = Buffer.alloc(IN_HEADER_SIZE + cases.length * CASE_SIZE);
  out.writeUInt32LE(FORMAT_MAGIC, IN_MAGIC_U32);
  out.writeUInt32LE(CASE_SIZE, IN_CASE_SIZE_U32);
  cases.forEach((c, i) => {
    const at = IN_HEADER_SIZE + i * CASE_SIZE;
    out.writeUInt32LE(c.code.length, at + CASE_CODE_LEN_U32);
    out.writeUInt32LE(c.eflags >>> 0, at + CASE_EFLAGS_U32);
    out.writeUInt32LE(c.eax >>> 0, at + CASE_EAX_U32);
    out.set(c.code, at + CASE_CODE);
    out.set(c.window, at + CASE_WINDOW);
  });
  return out;
}

function decodeResults(out: Buffer, count: number): { selectors: HostSelectors; results: X87Result[] } {
  if (out.length !== OUT_HEADER_SIZE + count * RES_SIZE || out.readUInt32LE(OUT_MAGIC_U32) !== FORMAT_MAGIC) {
    throw new Error(`x87 native runner returned ${out.length} bytes for ${count} cases`);
  }
  const selectors = [0, 1, 2, 3].map((i) => out.readUInt32LE(OUT_SELECTORS_U32 + i * 4)) as unknown as HostSelectors;
  const results = Array.from({ length: count }, (_, i): X87Result => {
    const at = OUT_HEADER_SIZE + i * RES_SIZE;
    const signal = out.readUInt32LE(at + RES_SIGNAL_U32);
    const result: X87Result = {
      eflags: out.readUInt32LE(at + RES_EFLAGS_U32),
      eax: out.readUInt32LE(at + RES_EAX_U32),
      window: new Uint8Array(out.buffer, out.byteOffset + at + RES_WINDOW, WINDOW_SIZE),
    };
    if (signal !== 0) {
      result.fault = { vector: out.readUInt32LE(at + RES_VECTOR_U32), eip: out.readUInt32LE(at + RES_EIP_U32), detail: SIGNAL_NAMES[signal] ?? `signal ${signal}` };
    }
    return result;
  });
  return { selectors, results };
}

/** Runs a batch on the host CPU. */
export function runNative(cases: readonly X87Case[]): Promise<{ selectors: HostSelectors; results: X87Result[] }> {
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
        reject(new Error(`x87 native runner exited with ${signal ?? code}: ${Buffer.concat(err).toString()}`));
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
