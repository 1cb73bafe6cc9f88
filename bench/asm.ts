/**
 * A tiny x86 assembler for the bench's guest programs (32-bit operand and address size): one
 * encoder per instruction form the workloads use, each line keeping its mnemonic beside its
 * bytes, and labels for rel8 jumps resolved when the program is assembled. Encodings from the
 * Intel SDM vol. 2 (opcode in each encoder's doc comment; /r is a ModRM byte, /n one whose reg
 * field is n).
 */

/** A 32-bit general register by its encoding number: EAX ECX EDX EBX ESP EBP ESI EDI. */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
/** An 8-bit register with a 32-bit register's number: AL CL DL BL only (no AH..BH here). */
export type Reg8 = 0 | 1 | 2 | 3;

export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

/** Register names by number, for listings and messages. */
export const REG32_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const REG8_NAMES = ["al", "cl", "dl", "bl"];

/** A memory operand [base + index * scale + disp]. */
export interface Mem {
  base: Reg;
  index?: Exclude<Reg, typeof ESP>;
  scale?: 1 | 2 | 4 | 8;
  disp?: number;
}

/** Condition codes of Jcc, SETcc and CMOVcc, by their low opcode nibble. */
const CONDITIONS = { o: 0, no: 1, b: 2, ae: 3, e: 4, ne: 5, be: 6, a: 7, s: 8, ns: 9, p: 10, np: 11, l: 12, ge: 13, le: 14, g: 15 } as const;
/** A condition code's name. */
export type Cond = keyof typeof CONDITIONS;

/** One line of a program: an instruction with fixed bytes, a rel8 jump to a label, or a label. */
export type Line =
  | { kind: "insn"; text: string; bytes: number[] }
  | { kind: "jump"; text: string; opcode: number; target: string }
  | { kind: "label"; name: string };

/** An assembled program. */
export interface Program {
  /** Guest address of the first byte (where execution starts). */
  origin: number;
  bytes: Uint8Array;
  /** One line per instruction: address, bytes, mnemonic (for error messages). */
  listing: string;
}

const le32 = (value: number): number[] => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
const isInt8 = (value: number): boolean => value >= -128 && value <= 127;
const hex = (value: number): string => `0x${(value >>> 0).toString(16)}`;

function memText(m: Mem): string {
  const index = m.index === undefined ? "" : `+${REG32_NAMES[m.index]}${m.scale && m.scale > 1 ? `*${m.scale}` : ""}`;
  const disp = m.disp ? `${m.disp < 0 ? "-" : "+"}${hex(Math.abs(m.disp))}` : "";
  return `[${REG32_NAMES[m.base]}${index}${disp}]`;
}

const operandText = (rm: Reg | Mem): string => (typeof rm === "number" ? REG32_NAMES[rm] : memText(rm));

/** ModRM (and SIB and displacement) for reg field `reg` and operand `rm`. */
function modrm(reg: number, rm: Reg | Mem): number[] {
  if (typeof rm === "number") return [0xc0 | (reg << 3) | rm];
  const disp = rm.disp ?? 0;
  // [EBP] has no mod-0 form (that encoding means disp32 alone): it takes a zero disp8.
  const mod = disp === 0 && rm.base !== EBP ? 0 : isInt8(disp) ? 1 : 2;
  const dispBytes = mod === 0 ? [] : mod === 1 ? [disp & 0xff] : le32(disp);
  if (rm.index === undefined && rm.base !== ESP) return [(mod << 6) | (reg << 3) | rm.base, ...dispBytes];
  // A SIB byte: for an index, or for an ESP base (index 100 means none).
  const scaleBits = Math.log2(rm.scale ?? 1);
  return [(mod << 6) | (reg << 3) | 4, (scaleBits << 6) | ((rm.index ?? ESP) << 3) | rm.base, ...dispBytes];
}

const insn = (text: string, ...bytes: number[]): Line => ({ kind: "insn", text, bytes });

/** `op r/m32, r32` forms of the ALU group (opcode = 8 x ALU number + 1). */
const aluRegs = (name: string, opcode: number) => (dst: Reg, src: Reg): Line =>
  insn(`${name} ${REG32_NAMES[dst]}, ${REG32_NAMES[src]}`, opcode, ...modrm(src, dst));

/** `op r/m32, imm8` (83 /n ib, sign-extended immediate). */
const aluImm8 = (name: string, n: number) => (dst: Reg, value: number): Line => {
  if (!isInt8(value)) throw new RangeError(`${name} ${REG32_NAMES[dst]}, ${value}: the immediate must fit a signed byte`);
  return insn(`${name} ${REG32_NAMES[dst]}, ${value}`, 0x83, ...modrm(n, dst), value & 0xff);
};

/** Shifts `op r/m32, imm8` (C1 /n ib). */
const shiftImm = (name: string, n: number) => (dst: Reg, count: number): Line =>
  insn(`${name} ${REG32_NAMES[dst]}, ${count}`, 0xc1, ...modrm(n, dst), count & 0x1f);

/** x87 operations on a 64-bit real in memory. */
const x87m64 = (name: string, opcode: number, n: number) => (m: Mem): Line =>
  insn(`${name} qword ${memText(m)}`, opcode, ...modrm(n, m));

/** The instruction encoders. */
export const asm = {
  /** B8+r id: MOV r32, imm32 */
  movImm: (dst: Reg, value: number): Line => insn(`mov ${REG32_NAMES[dst]}, ${hex(value)}`, 0xb8 + dst, ...le32(value)),
  /** 89 /r: MOV r/m32, r32 (register to register, or a store) */
  mov: (dst: Reg | Mem, src: Reg): Line => insn(`mov ${operandText(dst)}, ${REG32_NAMES[src]}`, 0x89, ...modrm(src, dst)),
  /** 8B /r: MOV r32, r/m32 (a load) */
  load: (dst: Reg, src: Mem): Line => insn(`mov ${REG32_NAMES[dst]}, ${memText(src)}`, 0x8b, ...modrm(dst, src)),
  /** 01 /r: ADD r/m32, r32 */
  add: aluRegs("add", 0x01),
  /** 29 /r: SUB r/m32, r32 */
  sub: aluRegs("sub", 0x29),
  /** 31 /r: XOR r/m32, r32 */
  xor: aluRegs("xor", 0x31),
  /** 39 /r: CMP r/m32, r32 */
  cmp: aluRegs("cmp", 0x39),
  /** 83 /0 ib: ADD r/m32, imm8 */
  addImm: aluImm8("add", 0),
  /** 83 /7 ib: CMP r/m32, imm8 */
  cmpImm: aluImm8("cmp", 7),
  /** C1 /4 ib: SHL r/m32, imm8 */
  shlImm: shiftImm("shl", 4),
  /** C1 /5 ib: SHR r/m32, imm8 */
  shrImm: shiftImm("shr", 5),
  /** 0F AF /r: IMUL r32, r/m32 */
  imul: (dst: Reg, src: Reg): Line => insn(`imul ${REG32_NAMES[dst]}, ${REG32_NAMES[src]}`, 0x0f, 0xaf, ...modrm(dst, src)),
  /** 40+r: INC r32 */
  inc: (dst: Reg): Line => insn(`inc ${REG32_NAMES[dst]}`, 0x40 + dst),
  /** 48+r: DEC r32 */
  dec: (dst: Reg): Line => insn(`dec ${REG32_NAMES[dst]}`, 0x48 + dst),
  /** 8D /r: LEA r32, m */
  lea: (dst: Reg, src: Mem): Line => insn(`lea ${REG32_NAMES[dst]}, ${memText(src)}`, 0x8d, ...modrm(dst, src)),
  /** F6 /0 ib: TEST r/m8, imm8 */
  test8Imm: (dst: Reg8, value: number): Line => insn(`test ${REG8_NAMES[dst]}, ${value}`, 0xf6, ...modrm(0, dst), value & 0xff),
  /** 0F 40+cc /r: CMOVcc r32, r/m32 */
  cmov: (cc: Cond, dst: Reg, src: Reg): Line =>
    insn(`cmov${cc} ${REG32_NAMES[dst]}, ${REG32_NAMES[src]}`, 0x0f, 0x40 + CONDITIONS[cc], ...modrm(dst, src)),
  /** 0F 90+cc /0: SETcc r/m8 */
  set: (cc: Cond, dst: Reg8): Line => insn(`set${cc} ${REG8_NAMES[dst]}`, 0x0f, 0x90 + CONDITIONS[cc], ...modrm(0, dst)),
  /** 0F B6 /r: MOVZX r32, r/m8 */
  movzx8: (dst: Reg, src: Reg8): Line => insn(`movzx ${REG32_NAMES[dst]}, ${REG8_NAMES[src]}`, 0x0f, 0xb6, ...modrm(dst, src)),
  /** 70+cc cb: Jcc rel8 */
  j: (cc: Cond, target: string): Line => ({ kind: "jump", text: `j${cc} ${target}`, opcode: 0x70 + CONDITIONS[cc], target }),
  /** EB cb: JMP rel8 */
  jmp: (target: string): Line => ({ kind: "jump", text: `jmp ${target}`, opcode: 0xeb, target }),
  /** FC: CLD */
  cld: (): Line => insn("cld", 0xfc),
  /** F3 A5: REP MOVSD */
  repMovsd: (): Line => insn("rep movsd", 0xf3, 0xa5),
  /** F4: HLT */
  hlt: (): Line => insn("hlt", 0xf4),
  /** DB E3: FNINIT */
  fninit: (): Line => insn("fninit", 0xdb, 0xe3),
  /** D9 E8: FLD1 */
  fld1: (): Line => insn("fld1", 0xd9, 0xe8),
  /** DD /0: FLD m64fp */
  fld: x87m64("fld", 0xdd, 0),
  /** DC /0: FADD m64fp */
  fadd: x87m64("fadd", 0xdc, 0),
  /** DC /1: FMUL m64fp */
  fmul: x87m64("fmul", 0xdc, 1),
  /** DD /2: FST m64fp */
  fst: x87m64("fst", 0xdd, 2),
  /** DD /3: FSTP m64fp */
  fstp: x87m64("fstp", 0xdd, 3),
};

/** A label: the address of the next instruction, a jump target. */
export const label = (name: string): Line => ({ kind: "label", name });

const lineSize = (line: Line): number => (line.kind === "insn" ? line.bytes.length : line.kind === "jump" ? 2 : 0);

/** Assembles `lines` to run at guest address `origin` (every jump is rel8: two bytes). */
export function assemble(origin: number, lines: readonly Line[]): Program {
  const labels = new Map<string, number>();
  let at = origin;
  for (const line of lines) {
    if (line.kind === "label") {
      if (labels.has(line.name)) throw new Error(`label ${line.name} defined twice`);
      labels.set(line.name, at);
    }
    at += lineSize(line);
  }
  const bytes: number[] = [];
  const listing: string[] = [];
  at = origin;
  for (const line of lines) {
    if (line.kind === "label") {
      listing.push(`${line.name}:`);
      continue;
    }
    let encoded: number[];
    if (line.kind === "jump") {
      const target = labels.get(line.target);
      if (target === undefined) throw new Error(`${line.text}: no such label`);
      const rel = target - (at + 2);
      if (!isInt8(rel)) throw new RangeError(`${line.text}: target ${rel} bytes away, beyond rel8`);
      encoded = [line.opcode, rel & 0xff];
    } else {
      encoded = line.bytes;
    }
    listing.push(`  ${at.toString(16).padStart(8, "0")}  ${encoded.map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(24)}${line.text}`);
    bytes.push(...encoded);
    at += encoded.length;
  }
  return { origin, bytes: Uint8Array.from(bytes), listing: listing.join("\n") };
}
