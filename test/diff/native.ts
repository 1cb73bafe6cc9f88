/**
 * The host side of the differential test: the native runner (native/runner.c + .S on the shared
 * runtime, built and driven by test/native/runner.ts into build/diff/) and how its case and
 * result records map to DiffCase and MachineResult.
 */
import { NativeRunner, type RunnerBatch } from "../native/runner";
import * as format from "./case-format";
import {
  CASE_DATA, CASE_EFLAGS_U32, CASE_FLAGS_U32, CASE_FLAG_CODE16, CASE_FLAG_SEG16, CASE_REGS_U32, DATA_SIZE, RES_CR2_U32, RES_DATA,
  RES_EFLAGS_U32, RES_EIP_U32, RES_ERROR_CODE_U32, RES_REGS_U32, SIGNAL_NAMES, type DiffCase, type MachineResult,
} from "./case-format";

/** The host's selectors in the core's segment order ES CS SS DS FS GS (FS and GS: the DATA segment),
 * then the CODE16 segment's. */
export type HostSelectors = readonly [number, number, number, number, number, number, number];

/** A batch's results and the selectors the runner's segments had. */
export type NativeBatch = RunnerBatch<MachineResult, HostSelectors>;

const runner = new NativeRunner<DiffCase, MachineResult, HostSelectors>({
  name: "native runner",
  dir: new URL("./", import.meta.url),
  format,
  formatFile: "case-format.ts",
  encodeCase(out, at, c) {
    out.writeUInt32LE((c.seg16 ? CASE_FLAG_SEG16 : 0) | (c.code16 ? CASE_FLAG_CODE16 : 0), at + CASE_FLAGS_U32);
    out.writeUInt32LE(c.eflags >>> 0, at + CASE_EFLAGS_U32);
    c.regs.forEach((v, r) => out.writeUInt32LE(v, at + CASE_REGS_U32 + r * 4));
    out.set(c.data, at + CASE_DATA);
  },
  decodeResult(out, at, signal, vector) {
    const hex = (offset: number): string => `0x${out.readUInt32LE(at + offset).toString(16)}`;
    const detail = `${SIGNAL_NAMES[signal] ?? `signal ${signal}`}, error code ${hex(RES_ERROR_CODE_U32)}, cr2 ${hex(RES_CR2_U32)}`;
    return {
      end: signal === 0 ? { kind: "done" } : { kind: "exception", vector, detail },
      eip: out.readUInt32LE(at + RES_EIP_U32),
      eflags: out.readUInt32LE(at + RES_EFLAGS_U32),
      regs: Uint32Array.from({ length: 8 }, (_, r) => out.readUInt32LE(at + RES_REGS_U32 + r * 4)),
      data: new Uint8Array(out.buffer, out.byteOffset + at + RES_DATA, DATA_SIZE),
    };
  },
});

/** Builds the runner if its inputs changed; returns its path. */
export function buildRunner(): string {
  return runner.build();
}

/** Runs a batch on the host CPU. */
export function runNative(cases: readonly DiffCase[]): Promise<NativeBatch> {
  return runner.run(cases);
}
