/**
 * The flags side of a compiled block (block-compiler.ts): what the block's code knows of the
 * flags as it goes, the lazy flags it keeps in locals until the core may read them, and the code
 * for operations whose flags the core computes eagerly (IMUL, shifts, ADC, SBB), for the carry,
 * and for condition tests, each as the core's alu.ts and flags.ts do it.
 */
import {
  ALU_ADC, ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, ALU_XOR, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC,
  LAZY_NONE, LAZY_SUB,
} from "../../assembly/abi/block-records";
import {
  F_ALU, F_CONDITION, G_FLAGS, G_LAZY_DST, G_LAZY_OP, G_LAZY_RES, G_LAZY_SRC, G_LAZY_TOP, L_CARRY, L_DST, L_RES, L_SRC,
  L_TEMP,
} from "./block-abi";
import { type CodeWriter, Op } from "./wasm-writer";

/** The arithmetic flags in EFLAGS: CF PF AF ZF SF OF. */
const ARITH_FLAGS = 0x8d5;
const AF = 0x10;

/**
 * What the block's own code knows of the flags: everything after a 32-bit SUB/CMP or logic op it
 * compiled (operands and result in locals); after an ADD, ZF and SF from the result and CF from
 * the operands; after an operation that left CF in EFLAGS itself ("eager": IMUL, shifts, ADC,
 * SBB, INC, DEC), CF there and ZF and SF from the result.
 */
export type KnownFlags = "sub" | "logic" | "add" | "eager" | undefined;

const ALU_WASM: Record<number, Op> = {
  [ALU_ADD]: Op.i32Add, [ALU_OR]: Op.i32Or, [ALU_AND]: Op.i32And, [ALU_SUB]: Op.i32Sub, [ALU_XOR]: Op.i32Xor, [ALU_CMP]: Op.i32Sub,
};

/** Lazy flags a block recorded in its locals (L_DST, L_SRC or 1, L_RES) but not yet in the core's globals. */
export interface PendingFlags { lazy: number; size: number; sourceOne: boolean }

export class FlagCode {
  /** What the code emitted so far knows of the flags at this point. */
  known: KnownFlags;
  pending: PendingFlags | undefined;

  constructor(private readonly code: CodeWriter) {}

  private get(local: number): void {
    this.code.local(Op.localGet, local);
  }

  private set(local: number): void {
    this.code.local(Op.localSet, local);
  }

  /** Before an INC or DEC: puts CF as it stands into EFLAGS, where INC and DEC keep it. */
  keepCarry(): void {
    const c = this.code;
    c.global(Op.globalGet, G_FLAGS).i32(~1).op(Op.i32And);
    this.carry();
    c.op(Op.i32Or).global(Op.globalSet, G_FLAGS);
  }

  /** 32-bit INC (`inc`) or DEC of L_DST into L_RES, the flags but CF recorded lazily. */
  incDec(inc: boolean): void {
    const c = this.code;
    this.get(L_DST);
    c.i32(1).op(inc ? Op.i32Add : Op.i32Sub);
    this.set(L_RES);
    this.pending = { lazy: inc ? LAZY_INC : LAZY_DEC, size: 4, sourceOne: true };
    this.known = "eager";
  }

  /** 32-bit IMUL of L_DST and L_SRC into L_RES; CF and OF say whether the product overflowed. */
  imul(): void {
    const c = this.code;
    this.get(L_DST);
    this.get(L_SRC);
    c.op(Op.i32Mul);
    this.set(L_RES);
    this.get(L_DST);
    c.op(Op.i64ExtendI32S);
    this.get(L_SRC);
    c.op(Op.i64ExtendI32S).op(Op.i64Mul);
    this.get(L_RES);
    c.op(Op.i64ExtendI32S).op(Op.i64Ne);
    this.set(L_TEMP);
    this.setArith(() => this.get(L_TEMP), () => this.get(L_TEMP));
  }

  /** SHL, SHR or SAR (group-2 `op` 4-7) of L_DST by `count` (1-31) into L_RES, flags as the core's shift(). */
  shift(op: number, count: number): void {
    const c = this.code;
    const dst = () => this.get(L_DST);
    if (op === 5) { // SHR
      dst(); c.i32(count).op(Op.i32ShrU);
      this.set(L_RES);
      this.setArith(() => { dst(); c.i32(count - 1).op(Op.i32ShrU).i32(1).op(Op.i32And); }, () => { dst(); c.i32(31).op(Op.i32ShrU); });
    } else if (op === 7) { // SAR
      dst(); c.i32(count).op(Op.i32ShrS);
      this.set(L_RES);
      this.setArith(() => { dst(); c.i32(count - 1).op(Op.i32ShrS).i32(1).op(Op.i32And); }, () => c.i32(0));
    } else { // SHL, SAL
      dst(); c.i32(count).op(Op.i32Shl);
      this.set(L_RES);
      dst(); c.i32(32 - count).op(Op.i32ShrU).i32(1).op(Op.i32And);
      this.set(L_TEMP);
      this.setArith(() => this.get(L_TEMP), () => { this.get(L_RES); c.i32(31).op(Op.i32ShrU); this.get(L_TEMP); c.op(Op.i32Xor); });
    }
  }

  /**
   * Sets the arithmetic flags eagerly as the core's setArith() does: CF and OF from the bits `cf`
   * and `of` push (0 or 1), AF from what `af` pushes (AF's bit) or clear, ZF, SF and PF from the
   * 32-bit L_RES.
   */
  private setArith(cf: () => void, of: () => void, af?: () => void): void {
    const c = this.code;
    c.global(Op.globalGet, G_FLAGS).i32(~ARITH_FLAGS).op(Op.i32And);
    cf();
    c.op(Op.i32Or);
    if (af) {
      af();
      c.op(Op.i32Or);
    }
    of();
    c.i32(11).op(Op.i32Shl).op(Op.i32Or); // OF
    this.get(L_RES);
    c.op(Op.i32Eqz).i32(6).op(Op.i32Shl).op(Op.i32Or); // ZF
    this.get(L_RES);
    c.i32(24).op(Op.i32ShrU).i32(0x80).op(Op.i32And).op(Op.i32Or); // SF
    this.get(L_RES);
    c.i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).op(Op.i32Eqz).i32(2).op(Op.i32Shl).op(Op.i32Or); // PF
    c.global(Op.globalSet, G_FLAGS);
    c.i32(LAZY_NONE).global(Op.globalSet, G_LAZY_OP);
    this.pending = undefined; // overwritten
    this.known = "eager";
  }

  /**
   * The ALU operation in R_OP `op` (TEST too) at operand size `size` of L_DST and L_SRC (as the
   * core's alu() takes them) into L_RES, flags recorded or set.
   */
  alu(op: number, size: number): void {
    const c = this.code;
    const operation = op & 7;
    if (ALU_WASM[operation] === undefined) { // ADC, SBB
      if (size === 4) {
        this.addWithCarry(operation === ALU_ADC);
        return;
      }
      c.i32(operation); // (saveCarry() wrote the flags)
      this.get(L_DST);
      this.get(L_SRC);
      c.i32(size).call(F_ALU);
      this.set(L_RES);
      this.known = undefined;
      return;
    }
    const lazy = operation === ALU_ADD ? LAZY_ADD : operation === ALU_SUB || operation === ALU_CMP ? LAZY_SUB : LAZY_LOGIC;
    this.get(L_DST);
    this.get(L_SRC);
    c.op(ALU_WASM[operation]);
    if (size !== 4) c.i32(size === 2 ? 0xffff : 0xff).op(Op.i32And);
    this.set(L_RES);
    this.pending = { lazy, size, sourceOne: false };
    // The flag tests from locals assume 32-bit operands.
    this.known = size !== 4 ? undefined : lazy === LAZY_SUB ? "sub" : lazy === LAZY_LOGIC ? "logic" : "add";
  }

  /**
   * Writes the pending lazy flags into the core's globals, as setLazy() would have, where control
   * may leave the block's code (an exit, a fault, a branch to the loop's start); the locals still
   * hold them, since only flag-setting records write L_DST, L_SRC and L_RES.
   */
  writeLazy(): void {
    const p = this.pending;
    if (!p) return;
    const c = this.code;
    c.i32(p.lazy).global(Op.globalSet, G_LAZY_OP);
    this.get(L_DST);
    c.global(Op.globalSet, G_LAZY_DST);
    if (p.sourceOne) c.i32(1);
    else this.get(L_SRC);
    c.global(Op.globalSet, G_LAZY_SRC);
    this.get(L_RES);
    c.global(Op.globalSet, G_LAZY_RES);
    c.i32(p.size * 8 - 1).global(Op.globalSet, G_LAZY_TOP);
  }

  /** Before the core reads the flags on the block's own path: writes them, and nothing is pending. */
  settleLazy(): void {
    this.writeLazy();
    this.pending = undefined;
  }

  /** Pushes CF (0 or 1) as it stands, from what the block knows or from the core. */
  private carry(): void {
    const c = this.code;
    switch (this.known) {
      case "sub": this.get(L_DST); this.get(L_SRC); c.op(Op.i32LtU); break;
      case "logic": c.i32(0); break;
      case "add": this.get(L_RES); this.get(L_DST); c.op(Op.i32LtU); break;
      case "eager": c.global(Op.globalGet, G_FLAGS).i32(1).op(Op.i32And); break;
      default:
        this.settleLazy();
        c.i32(2).call(F_CONDITION); // B: CF
    }
  }

  /**
   * Before an ADC or SBB (R_OP `op`) sets up its operands in the locals the carry may come from:
   * a 32-bit one keeps CF in L_CARRY; for a smaller one, which the core runs, the pending flags
   * are written while the locals still hold them.
   */
  saveCarry(op: number, size: number): void {
    if ((op & 7) !== ALU_ADC && (op & 7) !== ALU_SBB) return;
    if (size !== 4) {
      this.settleLazy();
      return;
    }
    this.carry();
    this.set(L_CARRY);
  }

  /** 32-bit ADC (`add`) or SBB of L_DST and L_SRC with L_CARRY into L_RES, flags set as the core's alu() does. */
  private addWithCarry(add: boolean): void {
    const c = this.code;
    const get = (local: number) => this.get(local);
    get(L_DST); get(L_SRC); c.op(add ? Op.i32Add : Op.i32Sub); get(L_CARRY); c.op(add ? Op.i32Add : Op.i32Sub);
    this.set(L_RES);
    const cf = () => {
      // With a carry in, equality also carries out.
      if (add) { get(L_RES); get(L_DST); c.op(Op.i32LeU); get(L_RES); get(L_DST); c.op(Op.i32LtU); }
      else { get(L_DST); get(L_SRC); c.op(Op.i32LeU); get(L_DST); get(L_SRC); c.op(Op.i32LtU); }
      get(L_CARRY);
      c.op(Op.select);
    };
    const of = () => {
      if (add) { get(L_DST); get(L_RES); c.op(Op.i32Xor); get(L_SRC); get(L_RES); c.op(Op.i32Xor); }
      else { get(L_DST); get(L_SRC); c.op(Op.i32Xor); get(L_DST); get(L_RES); c.op(Op.i32Xor); }
      c.op(Op.i32And).i32(31).op(Op.i32ShrU);
    };
    const af = () => { get(L_DST); get(L_SRC); c.op(Op.i32Xor); get(L_RES); c.op(Op.i32Xor).i32(AF).op(Op.i32And); };
    this.setArith(cf, of, af);
  }

  /** Pushes 1 when condition code `cc` holds, from the block's own flag operands where it can. */
  condition(cc: number): void {
    const c = this.code;
    const get = (local: number) => this.get(local);
    const test = cc >> 1;
    if (this.known === "sub" && test !== 0 && test !== 5) {
      switch (test) {
        case 1: get(L_DST); get(L_SRC); c.op(Op.i32LtU); break; // B
        case 2: get(L_RES); c.op(Op.i32Eqz); break; // E
        case 3: get(L_DST); get(L_SRC); c.op(Op.i32LeU); break; // BE
        case 4: get(L_RES); c.i32(0).op(Op.i32LtS); break; // S
        case 6: get(L_DST); get(L_SRC); c.op(Op.i32LtS); break; // L
        default: get(L_DST); get(L_SRC); c.op(Op.i32LeS); // LE
      }
    } else if (this.known === "logic" && test !== 5) {
      // CF and OF are clear after a logic op.
      switch (test) {
        case 0: case 1: c.i32(0); break; // O, B
        case 2: case 3: get(L_RES); c.op(Op.i32Eqz); break; // E, BE
        case 4: case 6: get(L_RES); c.i32(0).op(Op.i32LtS); break; // S, L
        default: get(L_RES); c.i32(0).op(Op.i32LeS); // LE: ZF or SF
      }
    } else if ((this.known === "add" || this.known === "eager") && (test === 2 || test === 4)) {
      get(L_RES);
      if (test === 2) c.op(Op.i32Eqz); // E
      else c.i32(0).op(Op.i32LtS); // S
    } else {
      this.settleLazy();
      c.i32(cc).call(F_CONDITION); // negated as the odd codes say
      return;
    }
    if ((cc & 1) !== 0) c.op(Op.i32Eqz);
  }
}
