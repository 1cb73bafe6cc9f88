/**
 * The core side of the x87 differential test: runs a case in build/core.wasm on the machine the
 * native runner sees (test/native/core.ts: the code page and the DATA pages as RAM, flat 32-bit
 * protected mode at CPL 3 with the host's selectors, every exception an exit), with CR0.NE set
 * (so a pending unmasked exception raises #MF, as Linux runs the host).
 *
 * The FPU starts each case as FNINIT leaves it (the native runner executes FNINIT); after a
 * fault, the FPU state is read from the vCPU block and laid out as FNSAVE's 32-bit image at
 * WIN_OUT, independently of the core's own FNSAVE. A case runs through the core's decoded blocks
 * unless `interpretOnly` asks for the interpreter alone.
 */
import {
  FPU_CW_U16, FPU_FCS_U16, FPU_FDP_U32, FPU_FDS_U16, FPU_FIP_U32, FPU_FOP_U16, FPU_REG_BASE, FPU_REG_SIGN_EXP_U16,
  FPU_REG_SIGNIFICAND_U64, FPU_REG_SIZE, FPU_SW_U16, FPU_TW_U16,
} from "../../assembly/abi/layout";
import { REG } from "../../workers/registers";
import { CaseCore, flatSegment, reachedEnd, type Segment } from "../native/core";
import {
  CODE_BASE, CODE_SIZE, DATA_BASE, DATA_SIZE, EFLAGS_FIXED, EFLAGS_INPUT, WIN_OUT, WINDOW_BASE, WINDOW_SIZE,
} from "./format";
import type { HostSelectors, X87Case, X87Result } from "./native";

/** Instructions a case may take: its own few, plus the FRSTOR and FNSAVE around them. */
const BUDGET = 64;
/** CR0: PE, ET and NE. */
const CR0_PE_ET_NE = 0x31n;
const SEGMENTS: readonly Segment[] = ["es", "cs", "ss", "ds"];

/** One CoreHost set up for x87 cases; run() takes one case at a time. */
export class X87CoreRunner {
  private readonly core = new CaseCore({ dataBase: DATA_BASE, dataSize: DATA_SIZE, codeBase: CODE_BASE, codeSize: CODE_SIZE });
  private readonly window = this.core.data.subarray(WINDOW_BASE - DATA_BASE, WINDOW_BASE - DATA_BASE + WINDOW_SIZE);
  private readonly fpu = new DataView(this.core.host.memory.buffer, this.core.host.block);

  constructor(private readonly selectors: HostSelectors) {}

  /** Runs one case from FNINIT's state and returns what the core ended with. */
  run(c: X87Case, interpretOnly = false): X87Result {
    this.window.set(c.window);
    this.fpu.setUint16(FPU_CW_U16, 0x37f, true);
    this.fpu.setUint16(FPU_SW_U16, 0, true);
    this.fpu.setUint16(FPU_TW_U16, 0xffff, true);
    const exit = this.core.run(c.code, [
      { tag: REG.interpret_only, value: interpretOnly ? 1 : 0 },
      { tag: REG.rax, value: c.eax >>> 0 },
      { tag: REG.rflags, value: (c.eflags & EFLAGS_INPUT) | EFLAGS_FIXED },
      { tag: REG.cr0, value: CR0_PE_ET_NE },
      ...SEGMENTS.flatMap((seg, i) => flatSegment(seg, this.selectors[i])),
    ], BUDGET);
    const [eax, eflags] = this.core.host.getState([REG.rax, REG.rflags]).map((e) => Number(e.value & 0xffffffffn));
    const result: X87Result = { eflags, eax, window: this.window.slice() };
    if (exit === undefined) {
      result.fault = { vector: -1, eip: 0, detail: `the budget of ${BUDGET} instructions ran out` };
    } else if (!reachedEnd(exit, CODE_BASE + c.code.length)) {
      const vector = exit.reason === "exception" ? exit.vector : -1;
      const eip = "rip" in exit ? exit.rip : 0;
      result.fault = { vector, eip, detail: JSON.stringify(exit) };
      this.writeStateImage(result.window.subarray(WIN_OUT));
    }
    return result;
  }

  /** The FPU state from the vCPU block in FNSAVE's 32-bit protected-mode layout. */
  private writeStateImage(out: Uint8Array): void {
    const view = new DataView(out.buffer, out.byteOffset, 108);
    const f = this.fpu;
    view.setUint32(0, f.getUint16(FPU_CW_U16, true) | 0xffff0000, true);
    const sw = f.getUint16(FPU_SW_U16, true);
    view.setUint32(4, sw | 0xffff0000, true);
    view.setUint32(8, f.getUint16(FPU_TW_U16, true) | 0xffff0000, true);
    view.setUint32(12, f.getUint32(FPU_FIP_U32, true), true);
    view.setUint32(16, f.getUint16(FPU_FCS_U16, true) | ((f.getUint16(FPU_FOP_U16, true) & 0x7ff) << 16), true);
    view.setUint32(20, f.getUint32(FPU_FDP_U32, true), true);
    view.setUint32(24, f.getUint16(FPU_FDS_U16, true) | 0xffff0000, true);
    const top = (sw >> 11) & 7;
    for (let i = 0; i < 8; i++) {
      const reg = FPU_REG_BASE + ((top + i) & 7) * FPU_REG_SIZE;
      view.setBigUint64(28 + i * 10, f.getBigUint64(reg + FPU_REG_SIGNIFICAND_U64, true), true);
      view.setUint16(36 + i * 10, f.getUint16(reg + FPU_REG_SIGN_EXP_U16, true), true);
    }
  }
}
