/**
 * The core side of the differential test: runs a case in build/core.wasm on the machine the
 * native runner sees (test/native/core.ts: the DATA area and the code page as RAM, flat 32-bit
 * protected mode at CPL 3 with the host's selectors, every exception an exit), with FS and GS
 * (DS and ES too in a SEG16 case) based at DATA_BASE with a 64 KiB limit. A CODE16 case runs with
 * CS as the host's 16-bit LDT code segment: based at CODE_BASE, limit CODE16_LIMIT, D = 0; its
 * EIP starts at 0 and the HLT after the code (#GP at CPL 3) still ends it. A case runs through
 * the core's decoded blocks (decoded at first execution) unless `interpretOnly` asks for the
 * interpreter alone.
 */
import { REG } from "../../workers/registers";
import type { CoreHost } from "../fixtures/core-host";
import { CaseCore, flatSegment, reachedEnd, segmentState, type Segment, type StateEntry } from "../native/core";
import {
  CODE16_LIMIT, CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, EFLAGS_FIXED, EFLAGS_INPUT, GPR32, type CaseEnd, type DiffCase,
  codeOrigin, type MachineResult,
} from "./case-format";
import { hex } from "./builder";
import type { HostSelectors } from "./native";

/** Instructions a case may take on the core (REP string cases take the most). */
const BUDGET = 10_000;
const CR0_PE_ET = 0x11n;
const SEGMENTS: readonly Segment[] = ["es", "cs", "ss", "ds", "fs", "gs"];
const FS = SEGMENTS.indexOf("fs");
/** The DATA segment: 32-bit read-write data, byte granular, DPL 3. */
const DATA16_ATTRS = 0x40f3;
/** The CODE16 segment: 16-bit execute/read code, byte granular, DPL 3. */
const CODE16_ATTRS = 0x00fb;
const CODE16 = 6;
const GPR_TAGS = GPR32.map((name) => REG[`r${name.slice(1)}`]);
const RESULT_TAGS = [...GPR_TAGS, REG.rip, REG.rflags];

/** One CoreHost set up for differential cases; run() takes one case at a time. */
export class CoreRunner {
  private readonly core = new CaseCore({ dataBase: DATA_BASE, dataSize: DATA_SIZE, codeBase: CODE_BASE, codeSize: CODE_SIZE });

  constructor(private readonly selectors: HostSelectors) {}

  /** Runs one case from its initial state and returns what the core ended with. */
  run(c: DiffCase, interpretOnly = false): MachineResult {
    this.core.data.set(c.data);
    const state = [
      { tag: REG.interpret_only, value: interpretOnly ? 1 : 0 },
      ...Array.from(c.regs, (value, r) => ({ tag: GPR_TAGS[r], value })),
      { tag: REG.rflags, value: (c.eflags & EFLAGS_INPUT) | EFLAGS_FIXED },
      { tag: REG.cr0, value: CR0_PE_ET },
      ...SEGMENTS.flatMap((seg, i) => this.segment(seg, i, c)),
    ];
    const origin = codeOrigin(c);
    let end: CaseEnd;
    try {
      end = describeExit(this.core.run(c.code, state, BUDGET, origin), origin + c.code.length);
    } catch (e) {
      end = { kind: "other", detail: `the core trapped: ${e instanceof Error ? e.message : String(e)}` };
    }
    const after = this.core.host.getState(RESULT_TAGS).map((e) => Number(e.value & 0xffffffffn));
    return {
      end,
      eip: after[8],
      eflags: after[9],
      regs: Uint32Array.from(after.slice(0, 8)),
      data: this.core.data.slice(),
    };
  }

  private segment(seg: Segment, index: number, c: DiffCase): StateEntry[] {
    if (seg === "cs" && c.code16) return segmentState(seg, this.selectors[CODE16], CODE_BASE, CODE16_LIMIT, CODE16_ATTRS);
    const data16 = seg === "fs" || seg === "gs" || (c.seg16 && (seg === "ds" || seg === "es"));
    return data16 ? segmentState(seg, this.selectors[FS], DATA_BASE, 0xffff, DATA16_ATTRS) : flatSegment(seg, this.selectors[index]);
  }
}

/** Maps a core exit to a case end; `end` is the address of the HLT after the code. */
function describeExit(exit: ReturnType<CoreHost["run"]>, end: number): CaseEnd {
  if (exit === undefined) return { kind: "other", detail: `the budget of ${BUDGET} instructions ran out` };
  if (reachedEnd(exit, end)) return { kind: "done" };
  switch (exit.reason) {
    case "exception":
      return { kind: "exception", vector: exit.vector, detail: `error code ${exit.errorCode === undefined ? "none" : hex(exit.errorCode)}` };
    case "unsupported-instruction":
      return { kind: "unsupported", opcode: exit.opcode };
    default:
      return { kind: "other", detail: `exit ${JSON.stringify(exit, (_, v: unknown) => (typeof v === "bigint" ? hex(Number(v)) : v))}` };
  }
}
