/**
 * The host side shared by the differential tests: builds a native runner (test/native/runtime.c
 * and .S plus the harness's own native/runner.c and .S) with the host's gcc into build/<dir>/
 * when its sources, format or flags changed, and runs batches of cases through it over a pipe.
 * The framing (test/native/format.ts) and a case's code are handled here; the harness encodes
 * the rest of its case record and decodes its result record.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CASE_CODE_LEN_U32, IN_CASE_SIZE_U32, IN_HEADER_SIZE, IN_MAGIC_U32, OUT_MAGIC_U32, OUT_SELECTORS_U32, RES_SIGNAL_U32,
  RES_VECTOR_U32,
} from "./format";

const RUNTIME_DIR = fileURLToPath(new URL("./", import.meta.url));
const RUNTIME_SOURCES = ["runtime.c", "runtime.S"].map((f) => `${RUNTIME_DIR}${f}`);
const RUNTIME_HEADER = `${RUNTIME_DIR}runtime.h`;
const CFLAGS = [
  "-m32", "-nostdlib", "-static", "-ffreestanding", "-O2", "-fno-pie", "-no-pie", "-fno-stack-protector",
  "-mgeneral-regs-only", "-fno-asynchronous-unwind-tables", "-Wall", "-Wextra", "-Werror",
];

/** The sizes the shared code needs from a harness's format module (which has more). */
export interface RunnerFormat {
  readonly FORMAT_MAGIC: number;
  readonly CASE_SIZE: number;
  readonly CASE_CODE: number;
  readonly RES_SIZE: number;
  readonly OUT_SELECTORS: number;
  readonly OUT_HEADER_SIZE: number;
}

/** What a harness tells the shared runner about itself. */
export interface RunnerSpec<Case extends RunnerCase, Result> {
  /** Names the runner in error messages, e.g. "x87 native runner". */
  readonly name: string;
  /** The harness's folder (test/diff/, test/x87/): its native/runner.c and .S are built into
   * build/<folder name>/. */
  readonly dir: URL;
  /** The harness's format module: every numeric export becomes a `#define` in format.h. */
  readonly format: RunnerFormat & Readonly<Record<string, unknown>>;
  /** The format module's file name in `dir`, for the header's comment. */
  readonly formatFile: string;
  /** Writes the rest of a case record at `at` (zeroed; the code and its length are written). */
  encodeCase(out: Buffer, at: number, c: Case): void;
  /** Reads one result record at `at` whose signal and vector fields are given; byte views into
   * `out` stay valid. */
  decodeResult(out: Buffer, at: number, signal: number, vector: number): Result;
}

/** What the shared code writes of every case. */
export interface RunnerCase { readonly code: Uint8Array }

/** A batch's results and the selectors the runner's segments had. */
export interface RunnerBatch<Result, Selectors> { selectors: Selectors; results: Result[] }

/** One harness's native runner; `Selectors` is the tuple type of its output header's selectors. */
export class NativeRunner<Case extends RunnerCase, Result, Selectors extends readonly number[]> {
  private readonly sources: readonly string[];
  private readonly outDir: string;
  private readonly path: string;

  constructor(private readonly spec: RunnerSpec<Case, Result>) {
    const harness = fileURLToPath(spec.dir);
    this.sources = [...RUNTIME_SOURCES, ...["runner.c", "runner.S"].map((f) => `${harness}native/${f}`)];
    this.outDir = fileURLToPath(new URL(`../../build/${basename(harness)}/`, import.meta.url));
    this.path = `${this.outDir}runner`;
  }

  /** The format as C `#define`s: every numeric export of the harness's format module. */
  private formatHeader(): string {
    const lines = Object.entries(this.spec.format)
      .filter((entry): entry is [string, number] => typeof entry[1] === "number")
      .map(([name, value]) => `#define ${name} 0x${(value >>> 0).toString(16)}u`);
    const from = relative(fileURLToPath(new URL("../../", import.meta.url)), fileURLToPath(new URL(this.spec.formatFile, this.spec.dir)));
    return `/* Generated from ${from} by test/native/runner.ts. */\n${lines.join("\n")}\n`;
  }

  /**
   * Builds the runner unless a build from the same sources, format and flags exists; returns its
   * path. The key is a content hash, so an edit in any input rebuilds it.
   */
  build(): string {
    const header = this.formatHeader();
    const { sources } = this;
    const key = createHash("sha256").update(header).update(CFLAGS.join(" "));
    for (const file of [RUNTIME_HEADER, ...sources]) key.update(readFileSync(file));
    const digest = key.digest("hex");
    const keyFile = `${this.path}.key`;
    if (existsSync(this.path) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === digest) return this.path;
    mkdirSync(this.outDir, { recursive: true });
    writeFileSync(`${this.outDir}format.h`, header);
    // A per-process name, so parallel test processes never run a half-written binary.
    const temp = `${this.path}.${process.pid}.tmp`;
    const gcc = spawnSync("gcc", [...CFLAGS, "-I", this.outDir, "-I", RUNTIME_DIR, ...sources, "-o", temp], { encoding: "utf8" });
    if (gcc.status !== 0) throw new Error(`building the ${this.spec.name} failed:\n${gcc.stderr || gcc.error}`);
    renameSync(temp, this.path);
    writeFileSync(keyFile, digest);
    return this.path;
  }

  /** Encodes a batch of cases in the runner's input format. */
  encode(cases: readonly Case[]): Buffer {
    const { FORMAT_MAGIC, CASE_SIZE, CASE_CODE } = this.spec.format;
    const out = Buffer.alloc(IN_HEADER_SIZE + cases.length * CASE_SIZE);
    out.writeUInt32LE(FORMAT_MAGIC, IN_MAGIC_U32);
    out.writeUInt32LE(CASE_SIZE, IN_CASE_SIZE_U32);
    cases.forEach((c, i) => {
      const at = IN_HEADER_SIZE + i * CASE_SIZE;
      out.writeUInt32LE(c.code.length, at + CASE_CODE_LEN_U32);
      out.set(c.code, at + CASE_CODE);
      this.spec.encodeCase(out, at, c);
    });
    return out;
  }

  /** Decodes the runner's output for `count` cases. */
  decode(out: Buffer, count: number): RunnerBatch<Result, Selectors> {
    const { FORMAT_MAGIC, OUT_SELECTORS, OUT_HEADER_SIZE, RES_SIZE } = this.spec.format;
    if (out.length !== OUT_HEADER_SIZE + count * RES_SIZE || out.readUInt32LE(OUT_MAGIC_U32) !== FORMAT_MAGIC) {
      throw new Error(`${this.spec.name} returned ${out.length} bytes for ${count} cases`);
    }
    const selectors = Array.from({ length: OUT_SELECTORS }, (_, i) => out.readUInt32LE(OUT_SELECTORS_U32 + i * 4));
    const results = Array.from({ length: count }, (_, i) => {
      const at = OUT_HEADER_SIZE + i * RES_SIZE;
      return this.spec.decodeResult(out, at, out.readUInt32LE(at + RES_SIGNAL_U32), out.readUInt32LE(at + RES_VECTOR_U32));
    });
    return { selectors: selectors as unknown as Selectors, results };
  }

  /** Runs a batch on the host CPU. */
  run(cases: readonly Case[]): Promise<RunnerBatch<Result, Selectors>> {
    const runner = this.build();
    return new Promise((resolve, reject) => {
      const child = spawn(runner, [], { stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (code !== 0) {
          reject(new Error(`${this.spec.name} exited with ${signal ?? code}: ${Buffer.concat(err).toString()}`));
          return;
        }
        try {
          resolve(this.decode(Buffer.concat(out), cases.length));
        } catch (e) {
          reject(e);
        }
      });
      child.stdin.end(this.encode(cases));
    });
  }
}
