/**
 * The host side of the x87 differential test: the native runner (native/runner.c + .S on the
 * shared runtime, built and driven by test/native/runner.ts into build/x87/), the case and result
 * types, and how their records are laid out.
 */
import { NativeRunner, type RunnerBatch } from "../native/runner";
import * as format from "./format";
import {
  CASE_EAX_U32, CASE_EFLAGS_U32, CASE_WINDOW, RES_EAX_U32, RES_EFLAGS_U32, RES_EIP_U32, RES_WINDOW, SIGNAL_NAMES,
  WINDOW_SIZE,
} from "./format";

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

const runner = new NativeRunner<X87Case, X87Result, HostSelectors>({
  name: "x87 native runner",
  dir: new URL("./", import.meta.url),
  format,
  formatFile: "format.ts",
  encodeCase(out, at, c) {
    out.writeUInt32LE(c.eflags >>> 0, at + CASE_EFLAGS_U32);
    out.writeUInt32LE(c.eax >>> 0, at + CASE_EAX_U32);
    out.set(c.window, at + CASE_WINDOW);
  },
  decodeResult(out, at, signal, vector) {
    const result: X87Result = {
      eflags: out.readUInt32LE(at + RES_EFLAGS_U32),
      eax: out.readUInt32LE(at + RES_EAX_U32),
      window: new Uint8Array(out.buffer, out.byteOffset + at + RES_WINDOW, WINDOW_SIZE),
    };
    if (signal !== 0) {
      result.fault = { vector, eip: out.readUInt32LE(at + RES_EIP_U32), detail: SIGNAL_NAMES[signal] ?? `signal ${signal}` };
    }
    return result;
  },
});

/** Builds the runner if its inputs changed; returns its path. */
export function buildRunner(): string {
  return runner.build();
}

/** Runs a batch on the host CPU. */
export function runNative(cases: readonly X87Case[]): Promise<RunnerBatch<X87Result, HostSelectors>> {
  return runner.run(cases);
}
