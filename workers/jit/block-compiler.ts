/**
 * Compiles decoded blocks (assembly/abi/block-records.ts) into WASM functions. A compiled block
 * does what the core's runBlock() does for it: the common register-only records become straight
 * WASM over the vCPU's registers in shared memory, with constant register addresses, and record
 * the lazy flags in the core's own globals; conditional jumps test the flags from the values at
 * hand when the block itself set them; every other record is run by the core's runMiddleRecord(),
 * and the block's last record, unless compiled here, by runRecords(), so memory accesses, faults,
 * device accesses and self-modifying code behave exactly as in the core.
 */
import {
  ADDR16, ALU_ADC, ALU_ADD, ALU_AND, ALU_SBB, B_COUNT, B_RECORDS, ALU_CMP, ALU_OR, ALU_SUB, ALU_XOR, K_ALU_MI, K_CALL, K_ALU_MR, K_ALU_RI, K_ALU_RI32, K_ALU_RM,
  K_ALU_RR, K_ALU_RR32, K_CMOV_RM, K_CMOV_RR, K_DEC32, K_IMUL_RM, K_IMUL_RR, K_IMUL_RRI, K_INC32, K_JCC, K_JMP, K_LEA, K_MOV_MI, K_MOV_MR,
  K_MOV_RI, K_MOV_RM, K_MOV_RR, K_MOV_RR32, K_MOVX_RM, K_MOVX_RR, K_NOP, K_POP_R, K_PUSH_I, K_PUSH_R, K_RET, K_SETCC, K_SHIFT_RC, K_SHIFT_RI, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_NONE,
  LAZY_SUB, MOVX_SIGNED, NO_REG, R_A, R_B, R_BASE, R_DISP, R_IMM, R_INDEX, R_KIND, R_LEN, R_OP, R_SIZE, RECORD_SIZE,
} from "../../assembly/abi/block-records";
import {
  REG_GPR_U64, REG_SEG_BASE, SEG_ATTR_DB, SEG_SS, SEG_ATTRS_U16, SEG_BASE_U64, SEG_LIMIT_U32, SEG_SIZE, TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE,
  TLB_READ_HOST_U32, TLB_READ_SUPER_U32, TLB_WRITE_HOST_U32, TLB_WRITE_SUPER_U32, VCPU_REQUEST_U32, VMH_BASE,
  VMH_DIRTY_LOG_U32,
} from "../../assembly/abi/layout";
import { CodeWriter, Op, writeModule, type FunctionImport, type GlobalImport } from "./wasm-writer";

/** What compiled blocks import from the core instance (assembly/index.ts exports them). */
const FUNCTIONS: readonly FunctionImport[] = [
  { module: "core", name: "runMiddleRecord", params: 3, results: 1 },
  { module: "core", name: "runRecords", params: 4, results: 1 },
  { module: "core", name: "leave", params: 3, results: 1 },
  { module: "core", name: "faultAt", params: 1, results: 1 },
  { module: "core", name: "jitCondition", params: 1, results: 1 },
  { module: "core", name: "jitRead", params: 4, results: 1 },
  { module: "core", name: "jitWrite", params: 5, results: 0 },
  { module: "core", name: "jitShift", params: 3, results: 1 },
  { module: "core", name: "jitAlu", params: 4, results: 1 },
];
const F_MIDDLE = 0;
const F_RECORDS = 1;
const F_LEAVE = 2;
const F_FAULT = 3;
const F_CONDITION = 4;
const F_READ = 5;
const F_WRITE = 6;
const F_SHIFT = 7;
const F_ALU = 8;
const GLOBALS: readonly GlobalImport[] = [
  "codeChanged", "eventCheck", "faultVector", "userOffset", "lazyOp", "lazyDst", "lazySrc", "lazyRes", "lazyTop",
  "blockRetired", "flags",
].map((name) => ({ module: "core", name }));
const G_CODE_CHANGED = 0;
const G_EVENT_CHECK = 1;
const G_FAULT_VECTOR = 2;
const G_USER_OFFSET = 3;
const G_LAZY_OP = 4;
const G_LAZY_DST = 5;
const G_LAZY_SRC = 6;
const G_LAZY_RES = 7;
const G_LAZY_TOP = 8;
const G_BLOCK_RETIRED = 9;
const G_FLAGS = 10;
/** The arithmetic flags in EFLAGS: CF PF AF ZF SF OF. */
const ARITH_FLAGS = 0x8d5;
const AF = 0x10;

/** The names compiled blocks import from the core's exports. */
export const CORE_IMPORTS: readonly string[] = [...FUNCTIONS, ...GLOBALS].map((i) => i.name);

// Locals of a compiled block: its parameters (EIP at entry, the most instructions it may retire),
// then scratch, the operands and result of the last flag-setting record the block ran itself, a
// memory access's parts, and the instructions retired by earlier rounds of a loop to its start.
const L_EIP = 0;
const L_MOST = 1;
const L_TEMP = 2;
const L_DST = 3;
const L_SRC = 4;
const L_RES = 5;
const L_OFFSET = 6; // the operand's offset in its segment
const L_LINEAR = 7;
const L_ENTRY = 8; // TLB entry index * TLB_ENTRY_SIZE
const L_VALUE = 9;
const L_ROUNDS = 10;
const L_CARRY = 11; // CF before an ADC or SBB
const LOCALS = 10;

/** Register number of ESP. */
const ESP = 4;

/** runRecord()'s "go on" result (block-run.ts NEXT). */
const NEXT = -1;
/** fault.ts NO_FAULT. */
const NO_FAULT = -1;

/**
 * What the block's own code knows of the flags: everything after a 32-bit SUB/CMP or logic op it
 * compiled (operands and result in locals); after an ADD, ZF and SF from the result and CF from
 * the operands; after an operation that left CF in EFLAGS itself ("eager": IMUL, shifts, ADC,
 * SBB, INC, DEC), CF there and ZF and SF from the result.
 */
type KnownFlags = "sub" | "logic" | "add" | "eager" | undefined;

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

const ALU_WASM: Record<number, Op> = {
  [ALU_ADD]: Op.i32Add, [ALU_OR]: Op.i32Or, [ALU_AND]: Op.i32And, [ALU_SUB]: Op.i32Sub, [ALU_XOR]: Op.i32Xor, [ALU_CMP]: Op.i32Sub,
};

/** Compiles one block: the body of a function (EIP at entry, most instructions) -> exit reason. */
class BlockCompiler {
  private readonly code = new CodeWriter();
  private known: KnownFlags;
  /** Lazy flags the block's code recorded in its locals but has not written to the core's globals yet. */
  private pending: { lazy: number; size: number; sourceOne: boolean } | undefined;
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
    this.writeLazy(); // the next round starts knowing nothing
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
    this.writeLazy();
    this.code.i32(i);
    this.pc(offset);
    this.code.i32(1).call(F_LEAVE);
    this.ret();
  }

  /** Returns runRecords() from record i at `offset`: the core runs the rest of the block. */
  private runTail(i: number, offset: number): void {
    this.writeLazy();
    this.code.i32(this.block).i32(i);
    this.pc(offset);
    this.code.i32(1).call(F_RECORDS);
    this.ret();
  }

  /** The core runs record i; its exit, if any, ends the block. */
  private runInCore(i: number, offset: number): void {
    const c = this.code;
    this.settleLazy();
    c.i32(this.block).i32(i);
    this.pc(offset);
    c.call(F_MIDDLE).local(Op.localTee, L_TEMP).i32(NEXT).op(Op.i32Ne).ifVoid().local(Op.localGet, L_TEMP);
    this.ret();
    c.op(Op.end);
    this.known = undefined;
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
    this.writeLazy(); // delivering the exception pushes EFLAGS
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
        this.saveCarry(op, size);
        this.loadReg(a, size);
        this.set(L_DST);
        if (rec.kind === K_ALU_RR32 || rec.kind === K_ALU_RR) this.loadReg(b, size);
        else c.i32(rec.u32(R_IMM));
        this.set(L_SRC);
        this.alu(op, size);
        if (op < 7) this.storeReg(a, size, () => this.get(L_RES)); // not CMP, not TEST
        return true;
      case K_ALU_RM:
        if (rec.address16) return false;
        this.saveCarry(op, size);
        this.operandOffset(rec);
        this.readOperand(rec, i, start, size);
        this.loadReg(a, size);
        this.set(L_DST);
        this.get(L_VALUE);
        this.set(L_SRC);
        this.alu(op, size);
        if (op < 7) this.storeReg(a, size, () => this.get(L_RES));
        this.leaveIfChanged(i, end);
        return true;
      case K_ALU_MR: case K_ALU_MI:
        if (rec.address16) return false;
        this.saveCarry(op, size);
        this.operandOffset(rec);
        this.readOperand(rec, i, start, size);
        this.get(L_VALUE);
        this.set(L_DST);
        if (rec.kind === K_ALU_MR) this.loadReg(b, size);
        else c.i32(rec.u32(R_IMM));
        this.set(L_SRC);
        this.alu(op, size);
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
          this.writeLazy();
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
        this.imul();
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
        this.imul();
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
          this.shift(op, count);
        } else { // rotations, counts in CL: the core's
          this.settleLazy();
          c.i32(op);
          this.loadReg(a, 4);
          if (count < 0) this.loadReg(1 /* CL */, 1);
          else c.i32(count);
          c.call(F_SHIFT);
          this.set(L_RES);
          this.known = undefined;
        }
        this.storeReg(a, 4, () => this.get(L_RES));
        return true;
      }
      case K_SETCC:
        this.storeReg(a, 1, () => this.condition(op & 15));
        return true;
      case K_CMOV_RR:
        if (size !== 4) return false;
        this.condition(op & 15);
        c.ifVoid();
        this.storeReg(a, 4, () => this.loadReg(b, 4));
        c.op(Op.end);
        return true;
      case K_CMOV_RM:
        // The source is read (and may fault) whatever the condition.
        if (size !== 4 || rec.address16) return false;
        this.operandOffset(rec);
        this.readOperand(rec, i, start, 4);
        this.condition(op & 15);
        c.ifVoid();
        this.storeReg(a, 4, () => this.get(L_VALUE));
        c.op(Op.end);
        this.leaveIfChanged(i, end);
        return true;
      case K_INC32: case K_DEC32: {
        // CF is kept: first it goes into EFLAGS, then INC/DEC record the rest lazily.
        const inc = rec.kind === K_INC32;
        c.global(Op.globalGet, G_FLAGS).i32(~1).op(Op.i32And);
        this.carry();
        c.op(Op.i32Or).global(Op.globalSet, G_FLAGS);
        this.loadReg(a, 4);
        this.set(L_DST);
        this.get(L_DST);
        c.i32(1).op(inc ? Op.i32Add : Op.i32Sub);
        this.set(L_RES);
        this.pending = { lazy: inc ? LAZY_INC : LAZY_DEC, size: 4, sourceOne: true };
        this.storeReg(a, 4, () => this.get(L_RES));
        this.known = "eager";
        return true;
      }
      case K_JCC:
        if (size !== 4) return false;
        this.condition(op & 15);
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
    const known = this.known;
    const pending = this.pending;
    const last = i === this.count - 1;
    c.block().block();
    fast();
    c.br(1).op(Op.end);
    if (last) this.runTail(i, start);
    else this.runInCore(i, start);
    c.op(Op.end);
    this.known = known;
    this.pending = pending; // the fast path left them pending (writing them twice does no harm)
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

  /** 32-bit IMUL of L_DST and L_SRC into L_RES; CF and OF say whether the product overflowed. */
  private imul(): void {
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
  private shift(op: number, count: number): void {
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
  private alu(op: number, size: number): void {
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
  private writeLazy(): void {
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
  private settleLazy(): void {
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
  private saveCarry(op: number, size: number): void {
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
  private condition(cc: number): void {
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
