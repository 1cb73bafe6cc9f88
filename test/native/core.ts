/**
 * The core side shared by the differential tests: a CoreHost (build/core.wasm) set up as the
 * machine a native runner sees. The DATA area and the code page are RAM at the guest physical
 * addresses the runner maps them at, paging is off, every exception exits (`exception_exits`)
 * as every exception ends a case on the host, and a case starts at CODE_BASE in 32-bit
 * protected mode at CPL 3 with the host's selectors.
 *
 * The code page is HLT around a case's code. At CPL 3 that raises #GP(0), as it would on the
 * host, so a case ran to its end when the core stops with #GP at CODE_BASE + the code's length.
 */
import { gpa, ramOffset } from "../../workers/addresses";
import type { VcpuExit } from "../../workers/exits";
import { REG } from "../../workers/registers";
import { CoreHost } from "../fixtures/core-host";
import { HLT } from "./format";

/** One register write for CoreHost.setState. */
export interface StateEntry { tag: number; value: number | bigint }

/** Where the DATA area and the code page are (the same on both machines). */
export interface CaseLayout { dataBase: number; dataSize: number; codeBase: number; codeSize: number }

export type Segment = "es" | "cs" | "ss" | "ds" | "fs" | "gs";

const GP = 13;
// Descriptor attributes as the host's user segments have them: DPL 3, 4 GiB, 32-bit.
const FLAT_CODE_ATTRS = 0xc0fb;
const FLAT_DATA_ATTRS = 0xc0f3;

/** The writes that load segment register `seg` with a descriptor's selector, base, limit and attributes. */
export function segmentState(seg: Segment, selector: number, base: number, limit: number, attrs: number): StateEntry[] {
  return [
    { tag: REG[`${seg}.selector`], value: selector },
    { tag: REG[`${seg}.base`], value: base },
    { tag: REG[`${seg}.limit`], value: limit },
    { tag: REG[`${seg}.attrs`], value: attrs },
  ];
}

/** `seg` as one of the host's flat 4 GiB user segments. */
export function flatSegment(seg: Segment, selector: number): StateEntry[] {
  return segmentState(seg, selector, 0, 0xffffffff, seg === "cs" ? FLAT_CODE_ATTRS : FLAT_DATA_ATTRS);
}

/** Whether the core stopped at the HLT after the code, i.e. the case ran to its end. */
export function reachedEnd(exit: VcpuExit | undefined, end: number): boolean {
  return exit?.reason === "exception" && exit.vector === GP && exit.rip === end;
}

/** A CoreHost with the DATA area at RAM offset 0 and the code page after it. */
export class CaseCore {
  readonly host = new CoreHost();
  /** The DATA area. */
  readonly data: Uint8Array;
  private readonly code: Uint8Array;

  constructor(private readonly layout: CaseLayout) {
    const { dataBase, dataSize, codeBase, codeSize } = layout;
    this.host.setMemoryMap([
      { kind: "ram", gpa: gpa(dataBase), size: dataSize, ramOffset: ramOffset(0) },
      { kind: "ram", gpa: gpa(codeBase), size: codeSize, ramOffset: ramOffset(dataSize) },
    ]);
    this.data = this.host.ram.subarray(0, dataSize);
    this.code = this.host.ram.subarray(dataSize, dataSize + codeSize);
    this.code.fill(HLT);
    this.host.setState([{ tag: REG.exception_exits, value: 0xffffffff }]);
  }

  /**
   * Places `code` at CODE_BASE, loads `state` (registers, EFLAGS, CR0, segments) with EIP at
   * `entry` (CODE_BASE, or 0 for a code segment based at CODE_BASE) and runs at most `budget`
   * instructions. The code page is HLT again afterwards, even when the core traps.
   */
  run(code: Uint8Array, state: readonly StateEntry[], budget: number, entry = this.layout.codeBase): VcpuExit | undefined {
    this.code.set(code);
    this.host.setState([{ tag: REG.rip, value: entry }, ...state]);
    try {
      return this.host.run(budget);
    } finally {
      this.code.fill(HLT, 0, code.length);
    }
  }
}
