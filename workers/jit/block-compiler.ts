/**
 * Compiles decoded blocks (assembly/abi/block-records.ts) into WASM functions. A compiled block
 * does what the core's runBlock() does for it: the common records become straight WASM over the
 * vCPU's registers in shared memory, with constant register addresses; memory operands take a
 * fast path through the segment and the TLB; flags are flag-code.ts's business; every other
 * record is run by the core's runMiddleRecord(), and the block's last record, unless compiled
 * here, by runRecords(), so faults, device accesses and self-modifying code behave exactly as in
 * the core. How the functions meet the core is block-abi.ts.
 */
import {
  ADDR16, B_COUNT, B_RECORDS, K_ALU_MI, K_ALU_MR, K_ALU_RI, K_ALU_RI32, K_ALU_RM, K_ALU_RR, K_ALU_RR32, K_CALL,
  K_CMOV_RM, K_CMOV_RR, K_DEC32, K_IMUL_RM, K_IMUL_RR, K_IMUL_RRI, K_INC32, K_JCC, K_JMP, K_LEA, K_MOVX_RM,
  K_MOVX_RR, K_MOV_MI, K_MOV_MR, K_MOV_RI, K_MOV_RM, K_MOV_RR, K_MOV_RR32, K_NOP, K_POP_R, K_PUSH_I, K_PUSH_R, K_RET,
  K_SETCC, K_SHIFT_RC, K_SHIFT_RI, MOVX_SIGNED, NO_REG, RECORD_SIZE, R_A, R_B, R_BASE, R_DISP,
  R_IMM, R_INDEX, R_KIND, R_LEN, R_OP, R_SIZE,
} from "../../assembly/abi/block-records";
import {
  REG_GPR_U64, REG_SEG_BASE, SEG_ATTRS_U16, SEG_ATTR_DB, SEG_BASE_U64, SEG_LIMIT_U32, SEG_SIZE, SEG_SS, TLB_BASE,
  TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_READ_HOST_U32, TLB_READ_SUPER_U32, TLB_WRITE_HOST_U32, TLB_WRITE_SUPER_U32,
  VCPU_REQUEST_U32, VMH_BASE, VMH_DIRTY_LOG_U32,
} from "../../assembly/abi/layout";
import {
  FUNCTIONS, F_FAULT, F_LEAVE, F_MIDDLE, F_READ, F_RECORDS, F_SHIFT, F_WRITE, GLOBALS, G_BLOCK_RETIRED,
  G_CODE_CHANGED, G_EVENT_CHECK, G_FAULT_VECTOR, G_USER_OFFSET, LOCALS, L_DST, L_EIP, L_ENTRY, L_LINEAR,
  L_MOST, L_OFFSET, L_RES, L_ROUNDS, L_SRC, L_TEMP, L_VALUE,
} from "./block-abi";
import { FlagCode } from "./flag-code";
import { CodeWriter, Op, writeModule } from "./wasm-writer";

/** Register number of ESP. */
const ESP = 4;

/** runRecord()'s "go on" result (block-run.ts NEXT). */
const NEXT = -1;
/** fault.ts NO_FAULT. */
const NO_FAULT = -1;


/** One record, read from shared memory. */
class RecordView {
  constructor(private readonly view: DataView, readonly at: number) {}
  u8(field: number): number { return this.view.getUint8(this.at + field); }
  u32(field: number): number { return this.view.getUint32(this.at + field, true); }
  get kind(): number { return this.u8(R_KIND); }
  get size(): number { return this.u8(R_SIZE); }
  get segment(): number { return this.u8(R_BASE) >> 4; }
  /** Whether the memory operand uses 16-bit addressing (left to the core). */
  get address16(): boolean { return (this.u8(R_INDEX) & ADDR16) !== 0; }
}


/** Compiles one block: the body of a function (EIP at entry, most instructions) -> exit reason. */
class BlockCompiler {
  private readonly code = new CodeWriter();
  private readonly flags = new FlagCode(this.code);
  private readonly count: number;
  /** Whether the block branches back to its start: its function then loops itself. */
  private readonly loops: boolean;

  constructor(private readonly view: DataView, private readonly block: number, private readonly vcpu: number) {
    this.count = view.getUint16(block + B_COUNT, true);
    this.loops = this.loopsToStart();
  }

  compile(): CodeWriter {
    const c = this.code;
    if (this.loops) c.loop();
    c.i32(0).global(Op.globalSet, G_CODE_CHANGED);
    let offset = 0; // of the record's instruction from the block's start
    for (let i = 0; i < this.count; i++) {
      const rec = this.record(i);
      const end = offset + rec.u8(R_LEN);
      const last = i === this.count - 1;
      if (last && rec.kind === K_JMP && rec.size === 4) {
        if (toStart(end, rec)) this.againOrBranch(i, 0);
        this.leave(i, end + rec.u32(R_IMM));
        return this.finish();
      }
      if (!this.inline(rec, i, offset, end)) {
        if (last) {
          this.runTail(i, offset);
          return this.finish();
        }
        this.runInCore(i, offset);
      }
      offset = end;
    }
    this.leave(this.count - 1, offset);
    return this.finish();
  }

  private finish(): CodeWriter {
    if (this.loops) this.code.op(Op.end).op(Op.unreachable);
    return this.code;
  }

  private record(i: number): RecordView {
    return new RecordView(this.view, this.block + B_RECORDS + i * RECORD_SIZE);
  }

  /** Whether a branch of the block goes back to its start (a loop the function runs itself). */
  private loopsToStart(): boolean {
    let offset = 0;
    for (let i = 0; i < this.count; i++) {
      const rec = this.record(i);
      offset += rec.u8(R_LEN);
      if ((rec.kind === K_JCC || rec.kind === K_JMP) && rec.size === 4 && toStart(offset, rec)) return true;
    }
    return false;
  }

  /**
   * At a branch to the block's start, taken after record i (`depth` blocks inside the function's
   * loop): runs the block again when another whole round fits the instructions allowed and
   * nothing waits at the acceptance point (an event, a request from the owner).
   */
  private againOrBranch(i: number, depth: number): void {
    const c = this.code;
    this.get(L_ROUNDS);
    c.i32(i + 1 + this.count).op(Op.i32Add);
    this.get(L_MOST);
    c.op(Op.i32LeS);
    c.global(Op.globalGet, G_EVENT_CHECK).op(Op.i32Eqz).op(Op.i32And);
    c.i32(0).atomicLoad(this.vcpu + VCPU_REQUEST_U32).op(Op.i32Eqz).op(Op.i32And);
    c.ifVoid();
    this.get(L_ROUNDS);
    c.i32(i + 1).op(Op.i32Add);
    this.set(L_ROUNDS);
    this.flags.writeLazy(); // the next round starts knowing nothing
    c.br(depth + 1);
    c.op(Op.end);
  }

  /** Returns the exit on the stack, counting the rounds a loop to the block's start ran before. */
  private ret(): void {
    const c = this.code;
    if (this.loops) {
      c.global(Op.globalGet, G_BLOCK_RETIRED);
      this.get(L_ROUNDS);
      c.op(Op.i32Add).global(Op.globalSet, G_BLOCK_RETIRED);
    }
    c.op(Op.return);
  }

  /** Pushes EIP + `offset` (the block's code is 32-bit, so EIP wraps at 4 GiB as i32 does). */
  private pc(offset: number): void {
    this.code.local(Op.localGet, L_EIP);
    if ((offset | 0) !== 0) this.code.i32(offset).op(Op.i32Add);
  }

  /** Returns leave(i, EIP + offset): the block ends after record i there. */
  private leave(i: number, offset: number): void {
    this.flags.writeLazy();
    this.code.i32(i);
    this.pc(offset);
    this.code.i32(1).call(F_LEAVE);
    this.ret();
  }

  /** Returns runRecords() from record i at `offset`: the core runs the rest of the block. */
  private runTail(i: number, offset: number): void {
    this.flags.writeLazy();
    this.code.i32(this.block).i32(i);
    this.pc(offset);
    this.code.i32(1).call(F_RECORDS);
    this.ret();
  }

  /** The core runs record i; its exit, if any, ends the block. */
  private runInCore(i: number, offset: number): void {
    const c = this.code;
    this.flags.settleLazy();
    c.i32(this.block).i32(i);
    this.pc(offset);
    c.call(F_MIDDLE).local(Op.localTee, L_TEMP).i32(NEXT).op(Op.i32Ne).ifVoid().local(Op.localGet, L_TEMP);
    this.ret();
    c.op(Op.end);
    this.flags.known = undefined;
  }

  private get(local: number): void {
    this.code.local(Op.localGet, local);
  }

  private set(local: number): void {
    this.code.local(Op.localSet, local);
  }

  /** Shared-memory address of register `r` at operand size `size` (AH..BH for r 4-7 at size 1). */
  private regAddress(r: number, size: number): number {
    const gpr = (n: number) => this.vcpu + REG_GPR_U64 + n * 8;
    return size === 1 && r >= 4 ? gpr(r - 4) + 1 : gpr(r);
  }

  private loadReg(r: number, size: number, signed = false): void {
    this.code.i32(0).memory(loadOp(size, signed), this.regAddress(r, size), 0);
  }

  /** Stores the value `value` pushes into register `r` at operand size `size`. */
  private storeReg(r: number, size: number, value: () => void): void {
    this.code.i32(0);
    value();
    this.code.memory(storeOp(size), this.regAddress(r, size), 0);
  }

  /** Pushes a record's effective address (32-bit addressing). */
  private effectiveAddress(rec: RecordView): void {
    const c = this.code;
    const base = rec.u8(R_BASE);
    const index = rec.u8(R_INDEX);
    c.i32(rec.u32(R_DISP));
    if ((base & NO_REG) === 0) {
      this.loadReg(base & 7, 4);
      c.op(Op.i32Add);
    }
    if ((index & NO_REG) === 0) {
      this.loadReg(index & 7, 4);
      const scale = (index >> 4) & 3;
      if (scale !== 0) c.i32(scale).op(Op.i32Shl);
      c.op(Op.i32Add);
    }
  }

  /** Shared-memory address of a field of segment register `seg` in the vCPU block. */
  private segmentField(seg: number, field: number): number {
    return this.vcpu + REG_SEG_BASE + seg * SEG_SIZE + field;
  }

  /**
   * Branches out of the enclosing block (depth 0) unless an access of `size` bytes at L_OFFSET in
   * segment `seg` is one the core would make without a fault or anything special: the segment a
   * present expand-up data segment (writable for a write) whose limit holds the operand, the
   * page in the TLB for this access at this privilege, the operand inside the page, and for a
   * write the dirty log off. Leaves L_LINEAR and L_ENTRY set.
   */
  private fastAccessOrBranch(seg: number, size: number, write: boolean): void {
    const c = this.code;
    // Segment: type and presence, then the limit (the operand's last byte within it, no wrap).
    c.i32(0).memory(Op.i32Load16U, this.segmentField(seg, SEG_ATTRS_U16), 1);
    c.i32(write ? 0x8e : 0x8c).op(Op.i32And).i32(write ? 0x82 : 0x80).op(Op.i32Ne).brIf(0);
    this.get(L_OFFSET);
    if (size > 1) {
      c.i32(size - 1).op(Op.i32Add).local(Op.localTee, L_LINEAR);
      this.get(L_OFFSET);
      c.op(Op.i32LtU).brIf(0);
      this.get(L_LINEAR);
    }
    c.i32(0).memory(Op.i32Load, this.segmentField(seg, SEG_LIMIT_U32), 2).op(Op.i32GtU).brIf(0);
    // The linear address, and its page in the TLB.
    c.i32(0).memory(Op.i32Load, this.segmentField(seg, SEG_BASE_U64), 2);
    this.get(L_OFFSET);
    c.op(Op.i32Add).local(Op.localTee, L_LINEAR);
    c.i32(0xfff).op(Op.i32And).i32(0x1000 - size).op(Op.i32GtU).brIf(0);
    this.get(L_LINEAR);
    c.i32(12).op(Op.i32ShrU).i32(TLB_ENTRIES - 1).op(Op.i32And).i32(Math.log2(TLB_ENTRY_SIZE)).op(Op.i32Shl).local(Op.localTee, L_ENTRY);
    c.global(Op.globalGet, G_USER_OFFSET).op(Op.i32Add);
    c.memory(Op.i32Load, this.vcpu + TLB_BASE + (write ? TLB_WRITE_SUPER_U32 : TLB_READ_SUPER_U32), 2);
    this.get(L_LINEAR);
    c.i32(0xfffff000).op(Op.i32And).i32(1).op(Op.i32Or).op(Op.i32Ne).brIf(0);
    if (write) c.i32(0).memory(Op.i32Load, VMH_BASE + VMH_DIRTY_LOG_U32, 2).brIf(0);
  }

  /** Pushes the shared-memory address of L_LINEAR through the TLB entry fastAccessOrBranch() found. */
  private hostAddress(write: boolean): void {
    const c = this.code;
    this.get(L_ENTRY);
    c.memory(Op.i32Load, this.vcpu + TLB_BASE + (write ? TLB_WRITE_HOST_U32 : TLB_READ_HOST_U32), 2);
    this.get(L_LINEAR);
    c.i32(0xfff).op(Op.i32And).op(Op.i32Add);
  }

  /**
   * Reads the memory operand of record i (at `start`) into L_VALUE, `size` bytes zero-extended;
   * L_OFFSET must hold its offset. The fast path loads it straight from RAM; else the core reads
   * it, and a fault ends the block as in the core. The record ends with leaveIfChanged().
   */
  private readOperand(rec: RecordView, i: number, start: number, size: number): void {
    const c = this.code;
    const seg = rec.segment;
    c.block().block();
    this.fastAccessOrBranch(seg, size, false);
    this.hostAddress(false);
    c.memory(loadOp(size, false), 0, 0);
    this.set(L_VALUE);
    c.br(1).op(Op.end);
    c.i32(seg);
    this.get(L_OFFSET);
    c.i32(size);
    this.pc(start);
    c.call(F_READ);
    this.set(L_VALUE);
    this.endIfFaulted(i);
    c.op(Op.end);
  }

  /**
   * Ends the block after record i (at `end`) when a device access during it may have written
   * code, and for `alsoEvent`, when the acceptance point has something to look at.
   */
  private leaveIfChanged(i: number, end: number, alsoEvent = false): void {
    const c = this.code;
    c.global(Op.globalGet, G_CODE_CHANGED);
    if (alsoEvent) c.global(Op.globalGet, G_EVENT_CHECK).op(Op.i32Or);
    c.ifVoid();
    this.leave(i, end);
    c.op(Op.end);
  }

  /** Writes the value `value` pushes as record i's memory operand at L_OFFSET (see readOperand()). */
  private writeOperand(rec: RecordView, i: number, start: number, end: number, size: number, value: () => void): void {
    const c = this.code;
    const seg = rec.segment;
    value();
    this.set(L_VALUE);
    c.block().block();
    this.fastAccessOrBranch(seg, size, true);
    this.hostAddress(true);
    this.get(L_VALUE);
    c.memory(storeOp(size), 0, 0);
    c.br(1).op(Op.end);
    c.i32(seg);
    this.get(L_OFFSET);
    c.i32(size);
    this.get(L_VALUE);
    this.pc(start);
    c.call(F_WRITE);
    this.endIfFaulted(i);
    this.leaveIfChanged(i, end, true);
    c.op(Op.end);
  }

  /** Returns faultAt(i) when the core recorded a fault. */
  private endIfFaulted(i: number): void {
    const c = this.code;
    c.global(Op.globalGet, G_FAULT_VECTOR).i32(NO_FAULT).op(Op.i32Ne).ifVoid();
    this.flags.writeLazy(); // delivering the exception pushes EFLAGS
    c.i32(i).call(F_FAULT);
    this.ret();
    c.op(Op.end);
  }

  /** Sets L_OFFSET to the record's effective address. */
  private operandOffset(rec: RecordView): void {
    this.effectiveAddress(rec);
    this.set(L_OFFSET);
  }

  /** Emits record i (from offset `start` to `end`) as WASM when it is one this compiler does; else false. */
  private inline(rec: RecordView, i: number, start: number, end: number): boolean {
    const c = this.code;
    const size = rec.size;
    const a = rec.u8(R_A);
    const b = rec.u8(R_B);
    const op = rec.u8(R_OP);
    switch (rec.kind) {
      case K_NOP:
        return true;
      case K_MOV_RR32: case K_MOV_RR:
        this.storeReg(a, size, () => this.loadReg(b, size));
        return true;
      case K_MOV_RI:
        this.storeReg(a, size, () => c.i32(rec.u32(R_IMM)));
        return true;
      case K_LEA:
        if (rec.address16 || size === 1) return false;
        this.storeReg(a, size, () => this.effectiveAddress(rec));
        return true;
      case K_MOVX_RR:
        this.storeReg(a, size, () => this.loadReg(b, op & 7, (op & MOVX_SIGNED) !== 0));
        return true;
      case K_MOV_RM:
        if (rec.address16) return false;
        this.operandOffset(rec);
        this.readOperand(rec, i, start, size);
        this.storeReg(a, size, () => this.get(L_VALUE));
        this.leaveIfChanged(i, end);
        return true;
      case K_MOVX_RM: {
        if (rec.address16) return false;
        this.operandOffset(rec);
        this.readOperand(rec, i, start, op & 7);
        this.storeReg(a, size, () => {
          this.get(L_VALUE);
          if ((op & MOVX_SIGNED) !== 0) c.op((op & 7) === 1 ? Op.i32Extend8S : Op.i32Extend16S);
        });
        this.leaveIfChanged(i, end);
        return true;
      }
      case K_MOV_MR: case K_MOV_MI:
        if (rec.address16) return false;
        this.operandOffset(rec);
        this.writeOperand(rec, i, start, end, size, () => (rec.kind === K_MOV_MR ? this.loadReg(b, size) : c.i32(rec.u32(R_IMM))));
        return true;
      case K_ALU_RR32: case K_ALU_RI32: case K_ALU_RR: case K_ALU_RI:
        this.flags.saveCarry(op, size);
        this.loadReg(a, size);
        this.set(L_DST);
        if (rec.kind === K_ALU_RR32 || rec.kind === K_ALU_RR) this.loadReg(b, size);
        else c.i32(rec.u32(R_IMM));
        this.set(L_SRC);
        this.flags.alu(op, size);
        if (op < 7) this.storeReg(a, size, () => this.get(L_RES)); // not CMP, not TEST
        return true;
      case K_ALU_RM:
        if (rec.address16) return false;
        this.flags.saveCarry(op, size);
        this.operandOffset(rec);
        this.readOperand(rec, i, start, size);
        this.loadReg(a, size);
        this.set(L_DST);
        this.get(L_VALUE);
        this.set(L_SRC);
        this.flags.alu(op, size);
        if (op < 7) this.storeReg(a, size, () => this.get(L_RES));
        this.leaveIfChanged(i, end);
        return true;
      case K_ALU_MR: case K_ALU_MI:
        if (rec.address16) return false;
        this.flags.saveCarry(op, size);
        this.operandOffset(rec);
        this.readOperand(rec, i, start, size);
        this.get(L_VALUE);
        this.set(L_DST);
        if (rec.kind === K_ALU_MR) this.loadReg(b, size);
        else c.i32(rec.u32(R_IMM));
        this.set(L_SRC);
        this.flags.alu(op, size);
        if (op < 7) this.writeOperand(rec, i, start, end, size, () => this.get(L_RES));
        else this.leaveIfChanged(i, end, true);
        return true;
      case K_PUSH_R: case K_PUSH_I:
        if (size !== 4) return false;
        this.withFallback(i, start, () => {
          if (rec.kind === K_PUSH_R) this.loadReg(a, 4);
          else c.i32(rec.u32(R_IMM));
          this.set(L_VALUE);
          this.pushOrBranch();
        });
        return true;
      case K_POP_R:
        if (size !== 4) return false;
        this.withFallback(i, start, () => {
          this.popOrBranch();
          this.storeReg(a, 4, () => this.get(L_VALUE));
        });
        return true;
      case K_CALL:
        if (size !== 4) return false;
        this.withFallback(i, start, () => {
          this.pc(end);
          this.set(L_VALUE);
          this.pushOrBranch();
          this.leave(i, end + rec.u32(R_IMM));
        });
        return true;
      case K_RET:
        if (size !== 4) return false;
        this.withFallback(i, start, () => {
          this.popOrBranch(rec.u32(R_IMM));
          this.flags.writeLazy();
          c.i32(i);
          this.get(L_VALUE);
          c.i32(1).call(F_LEAVE);
          this.ret();
        });
        return true;
      case K_IMUL_RR: case K_IMUL_RRI:
        if (size !== 4) return false;
        this.loadReg(rec.kind === K_IMUL_RR ? a : b, 4);
        this.set(L_DST);
        if (rec.kind === K_IMUL_RR) this.loadReg(b, 4);
        else c.i32(rec.u32(R_IMM));
        this.set(L_SRC);
        this.flags.imul();
        this.storeReg(a, 4, () => this.get(L_RES));
        return true;
      case K_IMUL_RM:
        if (size !== 4 || rec.address16) return false;
        this.operandOffset(rec);
        this.readOperand(rec, i, start, 4);
        this.loadReg(a, 4);
        this.set(L_DST);
        this.get(L_VALUE);
        this.set(L_SRC);
        this.flags.imul();
        this.storeReg(a, 4, () => this.get(L_RES));
        this.leaveIfChanged(i, end);
        return true;
      case K_SHIFT_RI: case K_SHIFT_RC: {
        if (size !== 4) return false;
        const count = rec.kind === K_SHIFT_RI ? rec.u32(R_IMM) & 31 : -1;
        if (count === 0) return true; // no operation, no flags
        if (count > 0 && op >= 4) {
          this.loadReg(a, 4);
          this.set(L_DST);
          this.flags.shift(op, count);
        } else { // rotations, counts in CL: the core's
          this.flags.settleLazy();
          c.i32(op);
          this.loadReg(a, 4);
          if (count < 0) this.loadReg(1 /* CL */, 1);
          else c.i32(count);
          c.call(F_SHIFT);
          this.set(L_RES);
          this.flags.known = undefined;
        }
        this.storeReg(a, 4, () => this.get(L_RES));
        return true;
      }
      case K_SETCC:
        this.storeReg(a, 1, () => this.flags.condition(op & 15));
        return true;
      case K_CMOV_RR:
        if (size !== 4) return false;
        this.flags.condition(op & 15);
        c.ifVoid();
        this.storeReg(a, 4, () => this.loadReg(b, 4));
        c.op(Op.end);
        return true;
      case K_CMOV_RM:
        // The source is read (and may fault) whatever the condition.
        if (size !== 4 || rec.address16) return false;
        this.operandOffset(rec);
        this.readOperand(rec, i, start, 4);
        this.flags.condition(op & 15);
        c.ifVoid();
        this.storeReg(a, 4, () => this.get(L_VALUE));
        c.op(Op.end);
        this.leaveIfChanged(i, end);
        return true;
      case K_INC32: case K_DEC32:
        this.flags.keepCarry(); // before L_DST changes: the carry may come from it
        this.loadReg(a, 4);
        this.set(L_DST);
        this.flags.incDec(rec.kind === K_INC32);
        this.storeReg(a, 4, () => this.get(L_RES));
        return true;
      case K_JCC:
        if (size !== 4) return false;
        this.flags.condition(op & 15);
        c.ifVoid();
        if (toStart(end, rec)) this.againOrBranch(i, 1);
        this.leave(i, end + rec.u32(R_IMM));
        c.op(Op.end);
        return true;
      default:
        return false;
    }
  }

  /**
   * Emits `fast`, the record's common case, which branches out of its block (depth 0) before it
   * changes anything when it cannot finish; the core then runs the record (runMiddleRecord(), or
   * for the block's last record runRecords(), which ends the block). Neither path touches flags.
   */
  private withFallback(i: number, start: number, fast: () => void): void {
    const c = this.code;
    const known = this.flags.known;
    const pending = this.flags.pending;
    const last = i === this.count - 1;
    c.block().block();
    fast();
    c.br(1).op(Op.end);
    if (last) this.runTail(i, start);
    else this.runInCore(i, start);
    c.op(Op.end);
    this.flags.known = known;
    this.flags.pending = pending; // the fast path left them pending (writing them twice does no harm)
  }

  /** Whether SS is a 32-bit stack: else branches out (depth 0). */
  private stack32OrBranch(): void {
    this.code.i32(0).memory(Op.i32Load16U, this.segmentField(SEG_SS, SEG_ATTRS_U16), 1).i32(SEG_ATTR_DB).op(Op.i32And).op(Op.i32Eqz).brIf(0);
  }

  /** Pushes L_VALUE (4 bytes) on a 32-bit stack by the fast path, else branches out (depth 0). */
  private pushOrBranch(): void {
    const c = this.code;
    this.stack32OrBranch();
    this.loadReg(ESP, 4);
    c.i32(4).op(Op.i32Sub);
    this.set(L_OFFSET);
    this.fastAccessOrBranch(SEG_SS, 4, true);
    this.hostAddress(true);
    this.get(L_VALUE);
    c.memory(Op.i32Store, 0, 0);
    this.storeReg(ESP, 4, () => this.get(L_OFFSET));
  }

  /** Pops 4 bytes into L_VALUE (and drops `extra` more) by the fast path, else branches out (depth 0). */
  private popOrBranch(extra = 0): void {
    const c = this.code;
    this.stack32OrBranch();
    this.loadReg(ESP, 4);
    this.set(L_OFFSET);
    this.fastAccessOrBranch(SEG_SS, 4, false);
    this.hostAddress(false);
    c.memory(Op.i32Load, 0, 0);
    this.set(L_VALUE);
    this.storeReg(ESP, 4, () => {
      this.get(L_OFFSET);
      c.i32(4 + extra).op(Op.i32Add);
    });
  }

}

/** Whether a relative branch record ending `end` bytes into its block targets the block's start. */
function toStart(end: number, rec: RecordView): boolean {
  return ((end + rec.u32(R_IMM)) | 0) === 0;
}

function loadOp(size: number, signed: boolean): Op {
  return size === 4 ? Op.i32Load : size === 2 ? (signed ? Op.i32Load16S : Op.i32Load16U) : (signed ? Op.i32Load8S : Op.i32Load8U);
}

function storeOp(size: number): Op {
  return size === 4 ? Op.i32Store : size === 2 ? Op.i32Store16 : Op.i32Store8;
}

/**
 * A module holding one function per block (exported as "b0", "b1", ... in the order given) for
 * the vCPU whose state block is at `vcpu`, reading the blocks' records from `memory`.
 */
export function compileBlocks(memory: WebAssembly.Memory, vcpu: number, blocks: readonly number[]): Uint8Array<ArrayBuffer> {
  const view = new DataView(memory.buffer);
  const functions = blocks.map((block, n) => ({ name: `b${n}`, locals: LOCALS, body: new BlockCompiler(view, block, vcpu).compile() }));
  return writeModule(FUNCTIONS, GLOBALS, functions);
}
