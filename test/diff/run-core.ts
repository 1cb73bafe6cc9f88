/**
 * The core side of the differential test: runs a case in build/core.wasm through CoreHost on the
 * machine the native runner sees: the DATA area and the code page as RAM at the same guest
 * physical addresses, paging off, flat 32-bit protected mode at CPL 3 with the host's selectors,
 * and FS and GS (DS and ES too in a SEG16 case) based at DATA_BASE with a 64 KiB limit. Every
 * exception exits (`exception_exits`), as every exception ends a case on the host.
 *
 * The code is followed by HLT. At CPL 3 that raises #GP(0), as it would on the host, so a case
 * ran to its end when the core stops with #GP at CODE_BASE + the code's length.
 */
import { gpa, ramOffset } from "../../workers/addresses";
import { REG } from "../../workers/registers";
import { CoreHost } from "../fixtures/core-host";
import {
  CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, EFLAGS_FIXED, EFLAGS_INPUT, GPR32, type CaseEnd, type DiffCase,
  type MachineResult,
} from "./case-format";
import { hex } from "./builder";
import type { HostSelectors } from "./native";

/** Instructions a case may take on the core (REP string cases take the most). */
const BUDGET = 10_000;
const HLT = 0xf4;
const CR0_PE_ET = 0x11n;
const GP = 13;
const SEGMENTS = ["es", "cs", "ss", "ds", "fs", "gs"] as const;
const FS = SEGMENTS.indexOf("fs");
// Descriptor attributes as the host's user segments have them: DPL 3, 4 GiB, 32-bit.
const FLAT_CODE_ATTRS = 0xc0fb;
const FLAT_DATA_ATTRS = 0xc0f3;
/** The DATA segment: 32-bit read-write data, byte granular, DPL 3. */
const DATA16_ATTRS = 0x40f3;
const GPR_TAGS = GPR32.map((name) => REG[`r${name.slice(1)}`]);
const RESULT_TAGS = [...GPR_TAGS, REG.rip, REG.rflags];

/** One CoreHost set up for differential cases; run() takes one case at a time. */
export class CoreRunner {
  private readonly host = new CoreHost();
  private readonly code: Uint8Array;
  private readonly data: Uint8Array;

  constructor(private readonly selectors: HostSelectors) {
    this.host.setMemoryMap([
      { kind: "ram", gpa: gpa(DATA_BASE), size: DATA_SIZE, ramOffset: ramOffset(0) },
      { kind: "ram", gpa: gpa(CODE_BASE), size: CODE_SIZE, ramOffset: ramOffset(DATA_SIZE) },
    ]);
    this.data = this.host.ram.subarray(0, DATA_SIZE);
    this.code = this.host.ram.subarray(DATA_SIZE, DATA_SIZE + CODE_SIZE);
    this.code.fill(HLT);
    this.host.setState([{ tag: REG.exception_exits, value: 0xffffffff }]);
  }

  /** Runs one case from its initial state and returns what the core ended with. */
  run(c: DiffCase): MachineResult {
    this.data.set(c.data);
    this.code.set(c.code);
    this.host.setState([
      ...Array.from(c.regs, (value, r) => ({ tag: GPR_TAGS[r], value })),
      { tag: REG.rip, value: CODE_BASE },
      { tag: REG.rflags, value: (c.eflags & EFLAGS_INPUT) | EFLAGS_FIXED },
      { tag: REG.cr0, value: CR0_PE_ET },
      ...SEGMENTS.flatMap((seg, i) => this.segment(seg, i, c.seg16)),
    ]);
    let end: CaseEnd;
    try {
      end = describeExit(this.host.run(BUDGET), CODE_BASE + c.code.length);
    } catch (e) {
      end = { kind: "other", detail: `the core trapped: ${e instanceof Error ? e.message : String(e)}` };
    }
    const state = this.host.getState(RESULT_TAGS).map((e) => Number(e.value & 0xffffffffn));
    this.code.fill(HLT, 0, c.code.length);
    return {
      end,
      eip: state[8],
      eflags: state[9],
      regs: Uint32Array.from(state.slice(0, 8)),
      data: this.data.slice(),
    };
  }

  private segment(seg: (typeof SEGMENTS)[number], index: number, seg16: boolean): { tag: number; value: number }[] {
    const data16 = seg === "fs" || seg === "gs" || (seg16 && (seg === "ds" || seg === "es"));
    const attrs = seg === "cs" ? FLAT_CODE_ATTRS : data16 ? DATA16_ATTRS : FLAT_DATA_ATTRS;
    return [
      { tag: REG[`${seg}.selector`], value: this.selectors[data16 ? FS : index] },
      { tag: REG[`${seg}.base`], value: data16 ? DATA_BASE : 0 },
      { tag: REG[`${seg}.limit`], value: data16 ? 0xffff : 0xffffffff },
      { tag: REG[`${seg}.attrs`], value: attrs },
    ];
  }
}

/** Maps a core exit to a case end; `end` is the address of the HLT after the code. */
function describeExit(exit: ReturnType<CoreHost["run"]>, end: number): CaseEnd {
  if (exit === undefined) return { kind: "other", detail: `the budget of ${BUDGET} instructions ran out` };
  switch (exit.reason) {
    case "exception":
      return exit.vector === GP && exit.rip === end
        ? { kind: "done" }
        : { kind: "exception", vector: exit.vector, detail: `error code ${exit.errorCode === undefined ? "none" : hex(exit.errorCode)}` };
    case "unsupported-instruction":
      return { kind: "unsupported", opcode: exit.opcode };
    default:
      return { kind: "other", detail: `exit ${JSON.stringify(exit, (_, v: unknown) => (typeof v === "bigint" ? hex(Number(v)) : v))}` };
  }
}
