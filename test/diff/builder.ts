/**
 * Builds one differential case: a seeded random number source, operand values biased to edge
 * cases, ModRM/SIB encoding of register and memory operands (32- and 16-bit addressing, segment
 * overrides) whose registers are solved so every access lands in the DATA area, and an
 * instruction assembler that records what it emitted for the coverage report and for failure
 * messages. Rows (generators.ts) describe instructions with it; they never write bytes by hand.
 *
 * A case runs in flat 32-bit code or, one time in CODE16_SHARE when its row allows it, in 16-bit
 * code (CS.D = 0). Rows state operand sizes and whether an address is 16-bit; the builder turns
 * them into 0x66 and 0x67 prefixes for the case's mode (`assemble`, `addrPrefix`).
 */
import { CODE_BASE, CODE_MAX, DATA_BASE, DATA_SIZE, EFLAGS_INPUT, GPR32, codeOrigin, type DiffCase } from "./case-format";

/** GPR numbers in encoding order. */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
/** Segment registers by their Sreg encoding. */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
/** EFLAGS bits. */
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

/** Operand size in bytes. */
export type Size = 1 | 2 | 4;

const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"];
/** The segment-override prefix of each segment register. */
export const SEG_PREFIX = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
/** The share of cases that run in 16-bit code when their row allows it. */
export const CODE16_SHARE = 0.25;
/** Where ESP points at the start of a case: the middle of the DATA area. */
export const STACK_OFFSET = 0x800;

/** A seeded generator (mulberry32): the same seed gives the same cases on any machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** The next 32 random bits, unsigned. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), this.state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n);
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() < p * 2 ** 32;
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  /** Shuffles `items` in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/** The seed of case `index` of a run seeded with `seed`, so any case can be rebuilt alone. */
export const caseSeed = (seed: number, index: number): number => (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;

const EDGES: Readonly<Record<Size, readonly number[]>> = {
  1: [0, 1, 2, 0x0f, 0x10, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff],
  2: [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff],
  4: [0, 1, 2, 0xff, 0xffff, 0x10000, 0x7ffe, 0x7fff, 0x8000, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff],
};

/** All ones in `size` bytes. */
export const mask = (size: Size): number => (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
/** The name of register `r` at `size` (AH..BH for bytes 4-7). */
export const regName = (r: number, size: Size): string =>
  size === 4 ? GPR32[r] : size === 2 ? GPR32[r].slice(1) : ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"][r];
/** `v` as unsigned 32-bit hex. */
export const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
/** `size` little-endian bytes of `value`. */
export const le = (value: number, size: number): number[] => Array.from({ length: size }, (_, i) => (value >>> (i * 8)) & 0xff);

/** A ModRM operand: a register (mod = 11) or a memory operand in the DATA area. */
export type Ea =
  | { kind: "reg"; reg: number; text: string; prefixes: readonly number[]; modrm(field: number): number[] }
  | { kind: "mem"; offset: number; seg: number; text: string; prefixes: readonly number[]; modrm(field: number): number[] };

/** How an instruction uses a memory operand: "none" for LEA-like forms that never access it. */
export type Access = "r" | "w" | "rw" | "none";

/** What a memory operand must allow. */
export interface MemOptions {
  access: Access;
  /** Bytes accessed from the operand's address (default: the operand size). */
  span?: number;
  /** DATA offsets the access must stay within (default: the whole area). */
  lo?: number;
  hi?: number;
}

/** One instruction for the assembler. */
export interface Insn {
  /** Opcode bytes, 0F first for the two-byte map. */
  op: readonly number[];
  /** Operand size; 2 or 4 adds the 0x66 prefix when it is not the mode's default (32-bit code: 2). */
  size?: Size;
  ea?: Ea;
  /** The ModRM reg field: a register number or an opcode extension (/digit). */
  reg?: number;
  imm?: readonly number[];
  /** REP/REPNE and other explicit prefixes. */
  prefixes?: readonly number[];
  lock?: boolean;
  /** Scaffolding around the instruction under test: not counted as tested. */
  scaffold?: boolean;
  /** Operands the encoding does not show (e.g. the register of `PUSH Zv`). */
  note?: string;
}

/** An opcode slot an instruction under test used, for the coverage report. */
export interface SlotUse { map: "1" | "0f"; op: number; ext?: number; prefixes: readonly number[] }

/** A generated case with what the comparison must know about it. */
export interface GeneratedCase extends DiffCase {
  row: string;
  /** EFLAGS bits the SDM leaves undefined after this case. */
  undefinedFlags: number;
  /** Bit r set: the SDM leaves GPR r undefined after this case. */
  undefinedRegs: number;
  /** One line per instruction: bytes and operands. */
  listing: string[];
}

/** The state of one case under construction. */
export class CaseBuilder {
  readonly regs = new Uint32Array(8);
  readonly data = new Uint8Array(DATA_SIZE);
  eflags: number;
  /** DS and ES select the DATA segment (needed for 16-bit addresses). */
  readonly seg16: boolean;
  /** The case runs in 16-bit code: default operand and address size 16. */
  readonly code16: boolean;
  undefinedFlags = 0;
  undefinedRegs = 0;
  readonly slots: SlotUse[] = [];
  private readonly code: number[] = [];
  private readonly listing: string[] = [];
  /** Registers whose value is set (addressing, implicit operands, ESP): operands leave them alone. */
  private readonly taken = new Set<number>([ESP]);

  /** `allowCode16`: the row may run in 16-bit code (see CODE32_ONLY in generators.ts). */
  constructor(readonly rng: Rng, allowCode16 = false) {
    for (let r = 0; r < 8; r++) this.regs[r] = rng.chance(0.3) ? rng.pick(EDGES[4]) : rng.u32();
    this.regs[ESP] = DATA_BASE + STACK_OFFSET + 4 * rng.int(-16, 16) + (rng.chance(0.1) ? rng.int(1, 3) : 0);
    this.eflags = rng.u32() & EFLAGS_INPUT;
    const words = new Uint32Array(this.data.buffer);
    for (let i = 0; i < words.length; i++) words[i] = rng.u32();
    this.code16 = rng.chance(CODE16_SHARE) && allowCode16;
    // 16-bit code mostly uses 16-bit addresses, which reach the DATA area through DS/ES too then.
    this.seg16 = rng.chance(this.code16 ? 0.6 : 0.2);
  }

  /** The operand size of a v-sized form: the mode's default size mostly, the other one (0x66) often. */
  vsize(): 2 | 4 {
    const other = this.rng.chance(0.35);
    return this.code16 ? (other ? 4 : 2) : other ? 2 : 4;
  }

  /** The operand and address size without 0x66/0x67: 2 in 16-bit code, 4 in 32-bit code. */
  get defaultSize(): 2 | 4 {
    return this.code16 ? 2 : 4;
  }

  /** The address-size prefix a 16-bit (`a16`) or 32-bit address needs in this case's mode. */
  addrPrefix(a16: boolean): number[] {
    return a16 === this.code16 ? [] : [0x67];
  }

  /** The EIP of code offset `offset` (a jump target). */
  codeAddress(offset: number): number {
    return (codeOrigin(this) + offset) >>> 0;
  }

  /** A test value: an edge case of the size, a small number, or anything. */
  value(size: Size): number {
    const { rng } = this;
    switch (rng.below(4)) {
      case 0:
      case 1:
        return rng.pick(EDGES[size]);
      case 2:
        return ((rng.chance(0.5) ? rng.int(0, 16) : -rng.int(1, 16)) & mask(size)) >>> 0;
      default:
        return (rng.u32() & mask(size)) >>> 0;
    }
  }

  /** Two test values, equal one time in eight (CMP, CMPXCHG and SUB edge cases). */
  valuePair(size: Size): [number, number] {
    const a = this.value(size);
    return [a, this.rng.chance(0.125) ? a : this.value(size)];
  }

  /** The initial ESP. */
  get esp(): number {
    return this.regs[ESP];
  }

  /** Gives register `r` a fixed 32-bit value that operands must not change. */
  reserve(r: number, value: number): void {
    this.regs[r] = value >>> 0;
    this.taken.add(r);
  }

  /** Keeps register `r`'s current value: operands chosen later leave it alone. */
  hold(r: number): void {
    this.taken.add(r);
  }

  /** Sets the low `size` bytes of register `r` (AH..BH for size 1, r >= 4). */
  setReg(r: number, size: Size, value: number): void {
    if (size === 1) {
      const shift = r >= 4 ? 8 : 0;
      const full = r & 3;
      this.regs[full] = (this.regs[full] & ~(0xff << shift)) | ((value & 0xff) << shift);
    } else {
      this.regs[r] = size === 4 ? value >>> 0 : (this.regs[r] & 0xffff0000) | (value & 0xffff);
    }
  }

  /** The low `size` bytes of register `r` (AH..BH for size 1, r >= 4). */
  reg(r: number, size: Size): number {
    return size === 1 ? (this.regs[r & 3] >>> (r >= 4 ? 8 : 0)) & 0xff : (this.regs[r] & mask(size)) >>> 0;
  }

  private isTaken(r: number, size: Size): boolean {
    return this.taken.has(size === 1 ? r & 3 : r);
  }

  /** Reads `size` bytes of the DATA area. */
  read(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v * 256 + this.data[offset + i]) >>> 0;
    return v;
  }

  /** Writes `size` bytes of `value` to the DATA area. */
  write(offset: number, size: number, value: number): void {
    this.data.set(le(value, size), offset);
  }

  /** Gives an operand a value, unless it is a register whose value is fixed already. */
  set(ea: Ea, size: Size, value: number): void {
    if (ea.kind === "mem") this.write(ea.offset, size, value);
    else if (!this.isTaken(ea.reg, size)) this.setReg(ea.reg, size, value);
  }

  /** The current value of an operand. */
  get(ea: Ea, size: Size): number {
    return ea.kind === "mem" ? this.read(ea.offset, size) : this.reg(ea.reg, size);
  }

  /**
   * A register operand, mostly one whose value is free to set; `freeOnly` when the instruction
   * needs the value it is given (a jump target, a bit offset).
   */
  gpr(size: Size, freeOnly = false): Ea & { kind: "reg" } {
    const free = [0, 1, 2, 3, 4, 5, 6, 7].filter((r) => !this.isTaken(r, size));
    const r = freeOnly || this.rng.chance(0.85) ? this.rng.pick(free) : this.rng.below(8);
    return regEa(r, size);
  }

  /** A ModRM rm operand: a register or a memory operand, even odds. */
  rm(size: Size, opts: MemOptions): Ea {
    return this.rng.chance(0.5) ? this.gpr(size) : this.mem(size, opts);
  }

  /** The linear base of segment `seg` in this case. */
  segBase(seg: number): number {
    if (seg === CS && this.code16) return CODE_BASE;
    return seg === FS || seg === GS || (this.seg16 && (seg === DS || seg === ES)) ? DATA_BASE : 0;
  }

  /** The offset in segment `seg` that reaches DATA offset `o`. */
  offsetIn(seg: number, o: number): number {
    return (DATA_BASE + o - this.segBase(seg)) >>> 0;
  }

  /**
   * A segment-override prefix now and then (CS only for reads: code segments are not writable;
   * in 16-bit code CS is the code page, so only where nothing is accessed). `dataOnly`: only
   * segments based at the DATA area.
   */
  override(access: Access, dataOnly = false): number | undefined {
    if (!this.rng.chance(0.15)) return undefined;
    const csOk = access === "none" || (access === "r" && !this.code16);
    const choices = [ES, CS, SS, DS, FS, GS].filter((s) => (!dataOnly || this.segBase(s) === DATA_BASE) && (s !== CS || csOk));
    return this.rng.pick(choices);
  }

  /** A memory operand whose registers and displacement are solved to reach the DATA area. */
  mem(size: Size, opts: MemOptions): Ea & { kind: "mem" } {
    const span = opts.span ?? size;
    const lo = opts.lo ?? 0;
    const hi = (opts.hi ?? DATA_SIZE) - span;
    const o = this.rng.int(lo, hi);
    // 16-bit offsets reach the DATA area only through a segment based there: DS/ES in a SEG16
    // case, else an override (FS/GS) that mem16 adds. 16-bit code mostly uses its default.
    const addr16 = this.code16
      ? this.rng.chance(opts.access === "none" ? 0.8 : this.seg16 ? 0.7 : 0.4)
      : opts.access === "none" ? this.rng.chance(0.2) : this.seg16 && this.rng.chance(0.5);
    return addr16 ? this.mem16(o, opts.access) : this.mem32(o, opts.access);
  }

  private freeRegs(except: readonly number[] = []): number[] {
    return [0, 1, 2, 3, 5, 6, 7].filter((r) => !this.taken.has(r) && !except.includes(r));
  }

  private mem32(o: number, access: Access): Ea & { kind: "mem" } {
    const { rng } = this;
    const seg0 = this.override(access);
    const free = this.freeRegs();
    type Form = "disp32" | "base" | "sib" | "sib-nobase" | "sib-esp";
    const forms: Form[] = ["disp32", "sib-esp"];
    if (free.length >= 1) forms.push("base", "base", "sib-nobase");
    if (free.length >= 2) forms.push("sib", "sib");
    const form = rng.pick(forms);
    const base = form === "sib-esp" ? ESP : form === "base" || form === "sib" ? rng.pick(free) : undefined;
    const indexChoices = this.freeRegs(base === undefined ? [] : [base]);
    const index = form === "sib" || form === "sib-nobase" || (form === "sib-esp" && indexChoices.length > 0 && rng.chance(0.5)) ? rng.pick(indexChoices) : undefined;
    const scale = rng.below(4);
    const seg = seg0 ?? (base === ESP || base === EBP ? SS : DS);
    const want = access === "none" ? rng.u32() : this.offsetIn(seg, o);
    let indexValue = 0;
    if (index !== undefined) {
      indexValue = rng.chance(0.5) ? rng.u32() : rng.int(-64, 64) >>> 0;
      this.reserve(index, indexValue);
    }
    const scaled = Math.imul(indexValue, 1 << scale);
    // mod: 0 = no displacement (none without a base: that is disp32), 1 = disp8, 2 = disp32. A
    // free base register is solved; otherwise the displacement takes the rest of the address.
    let mod: number;
    let disp: number;
    if (base === undefined || base === ESP) {
      disp = (want - (base === ESP ? this.esp : 0) - scaled) | 0;
      mod = base === undefined ? 0 : disp === 0 && rng.chance(0.5) ? 0 : disp === (disp << 24) >> 24 && rng.chance(0.5) ? 1 : 2;
    } else {
      mod = rng.pick(base === EBP ? [1, 2] : [0, 1, 2]);
      disp = mod === 1 ? (rng.u32() << 24) >> 24 : mod === 2 ? rng.u32() | 0 : 0;
      this.reserve(base, (want - scaled - disp) >>> 0);
    }
    const sib = form !== "disp32" && form !== "base";
    const rm = sib ? 4 : base ?? 5;
    const tail = [...(sib ? [(scale << 6) | ((index ?? 4) << 3) | (base ?? 5)] : []), ...(mod === 1 ? [disp & 0xff] : mod === 2 || base === undefined ? le(disp, 4) : [])];
    const parts = [base === undefined ? undefined : GPR32[base], index === undefined ? undefined : `${GPR32[index]}*${1 << scale}`, disp !== 0 || base === undefined ? hex(disp) : undefined];
    const where = access === "none" ? "" : ` -> DATA+${hex(o)}`;
    return {
      kind: "mem",
      offset: o,
      seg,
      prefixes: [...this.addrPrefix(false), ...(seg0 === undefined ? [] : [SEG_PREFIX[seg0]])],
      text: `${seg0 === undefined ? "" : `${SEG_NAMES[seg0]}:`}[${parts.filter(Boolean).join("+")}]${where}`,
      modrm: (field) => [(mod << 6) | (field << 3) | rm, ...tail],
    };
  }

  private mem16(o: number, access: Access): Ea & { kind: "mem" } {
    const { rng } = this;
    const FORMS16: readonly (readonly number[])[] = [[EBX, ESI], [EBX, EDI], [EBP, ESI], [EBP, EDI], [ESI], [EDI], [EBP], [EBX]];
    const usable = [0, 1, 2, 3, 4, 5, 6, 7].filter((rm) => FORMS16[rm].every((r) => !this.taken.has(r)));
    const rm = usable.length > 0 && rng.chance(0.9) ? rng.pick(usable) : 6;
    const mod = rm === 6 && !usable.includes(6) ? 0 : rng.below(3);
    const regs = rm === 6 && mod === 0 ? [] : FORMS16[rm];
    const defaultSeg = regs.includes(EBP) ? SS : DS;
    // A flat segment cannot reach the DATA area with a 16-bit offset: override it then.
    const seg0 = this.override(access, true) ?? (access !== "none" && this.segBase(defaultSeg) !== DATA_BASE ? rng.pick([ES, DS, FS, GS].filter((s) => this.segBase(s) === DATA_BASE)) : undefined);
    const seg = seg0 ?? defaultSeg;
    const want = access === "none" ? rng.u32() & 0xffff : this.offsetIn(seg, o);
    const disp = regs.length === 0 ? want : mod === 1 ? ((rng.u32() << 24) >> 24) & 0xffff : mod === 2 ? rng.u32() & 0xffff : 0;
    let sum = disp;
    regs.forEach((r, i) => {
      const low = i < regs.length - 1 ? rng.u32() & 0xffff : (want - sum) & 0xffff;
      sum += low;
      this.reserve(r, (rng.u32() & 0xffff0000) | low);
    });
    const names = ["bx+si", "bx+di", "bp+si", "bp+di", "si", "di", "bp", "bx"];
    const where = access === "none" ? "" : ` -> DATA+${hex(o)}`;
    return {
      kind: "mem",
      offset: o,
      seg,
      prefixes: [...this.addrPrefix(true), ...(seg0 === undefined ? [] : [SEG_PREFIX[seg0]])],
      text: `${seg0 === undefined ? "" : `${SEG_NAMES[seg0]}:`}[${[regs.length > 0 ? names[rm] : "", disp !== 0 || regs.length === 0 ? hex(disp) : ""].filter(Boolean).join("+")}]${where} (a16)`,
      modrm: (field) => [(mod << 6) | (field << 3) | rm, ...(mod === 1 ? [disp & 0xff] : mod === 2 || regs.length === 0 ? le(disp, 2) : [])],
    };
  }

  /**
   * Assembles an instruction without emitting it; prefixes come in a random order. A size of 2
   * or 4 other than the mode's default adds 0x66.
   */
  assemble(insn: Insn): number[] {
    const prefixes = this.rng.shuffle([
      ...(insn.lock ? [0xf0] : []),
      ...(insn.prefixes ?? []),
      ...(insn.size !== undefined && insn.size !== 1 && insn.size !== this.defaultSize ? [0x66] : []),
      ...(insn.ea?.prefixes ?? []),
    ]);
    const modrm = insn.ea ? insn.ea.modrm(insn.reg ?? 0) : [];
    return [...prefixes, ...insn.op, ...modrm, ...(insn.imm ?? [])];
  }

  /** Emits assembled bytes, recording the slot of an instruction under test. */
  emit(insn: Insn, bytes = this.assemble(insn)): void {
    if (this.code.length + bytes.length > CODE_MAX) throw new Error(`case code exceeds ${CODE_MAX} bytes`);
    const twoByte = insn.op[0] === 0x0f;
    const prefixCount = bytes.length - insn.op.length - (insn.ea ? insn.ea.modrm(0).length : 0) - (insn.imm?.length ?? 0);
    if (!insn.scaffold) {
      this.slots.push({ map: twoByte ? "0f" : "1", op: insn.op[twoByte ? 1 : 0], ext: insn.ea ? insn.reg ?? 0 : undefined, prefixes: bytes.slice(0, prefixCount) });
    }
    const operands = [insn.note, insn.ea?.text, insn.imm?.length ? `imm ${hex(insn.imm.reduceRight((v, b) => v * 256 + b, 0))}` : undefined].filter(Boolean).join(", ");
    const at = `+${this.code.length}`.padEnd(4);
    this.listing.push(`${at}${bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(36)}${insn.scaffold ? "(scaffold) " : ""}${operands}`);
    this.code.push(...bytes);
  }

  /** Current code length: the offset of the next instruction. */
  get here(): number {
    return this.code.length;
  }

  /** Emits bytes that must never run (HLT), e.g. padding a jump skips. */
  pad(to: number): void {
    while (this.code.length < to) this.code.push(0xf4);
  }

  /**
   * Emits `MOV r32, imm32` (`MOV r16, imm16` in 16-bit code; markerLength bytes) into a register
   * other than ESP: shows whether it ran.
   */
  marker(): void {
    const r = this.rng.pick([EAX, ECX, EDX, EBX, EBP, ESI, EDI]);
    const size = this.defaultSize;
    this.emit({ op: [0xb8 + r], size, imm: le(this.rng.u32(), size), scaffold: true });
  }

  /** The length of a marker. */
  get markerLength(): number {
    return 1 + this.defaultSize;
  }

  /** The finished case. */
  finish(row: string): GeneratedCase {
    return {
      row,
      code: Uint8Array.from(this.code),
      regs: this.regs,
      eflags: this.eflags,
      seg16: this.seg16,
      code16: this.code16,
      data: this.data,
      undefinedFlags: this.undefinedFlags,
      undefinedRegs: this.undefinedRegs,
      listing: this.listing,
    };
  }

}

function regEa(r: number, size: Size): Ea & { kind: "reg" } {
  return { kind: "reg", reg: r, text: regName(r, size), prefixes: [], modrm: (field) => [0xc0 | (field << 3) | r] };
}
