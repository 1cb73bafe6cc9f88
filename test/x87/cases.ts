/**
 * The x87 instruction forms the differential test covers and the generator of cases from them.
 * A case is one to three instructions between FRSTOR of a random state (registers drawn from the
 * edge classes of values.ts, random control word with every rounding and precision mode, and
 * sometimes unmasked exceptions or pending flags) and FNSAVE of the result. Memory operands use
 * disp32 addresses in the DATA window, now and then across its page boundary.
 */
import {
  CODE_MAX, PAGE_CROSS, WIN_FXSAVE, WIN_MEM, WIN_OUT, WIN_STATE, WINDOW_BASE, WINDOW_SIZE,
} from "./format";
import type { X87Case } from "./native";
import { bcdBits, binaryBits, extended, integerBits, Random, related, type Ext80 } from "./values";

/** The memory operand a form takes. */
export type Operand =
  | "none" | "m16int" | "m32int" | "m64int" | "m32fp" | "m64fp" | "m80fp" | "m80bcd" | "m16" | "env" | "save" | "fx";

/**
 * How a form's result is compared: exactly, or (transcendental) registers within TRANSCENDENTAL_ULPS
 * units in the last place and C1 (the rounding direction) ignored.
 */
export type Check = "exact" | "transcendental";

/** One instruction form: opcode, ModRM reg, and a fixed rm (register forms) or a memory operand. */
export interface Form {
  name: string;
  bytes: readonly number[];
  reg: number;
  /** A register form's rm; undefined for a random ST(i). */
  rm?: number;
  operand: Operand;
  check: Check;
  /**
   * ST(0)'s inputs: restricted to the instruction's defined range (F2XM1, FYL2XP1), or weighted
   * toward its hard cases (trig: near multiples of pi/2; log: near 1 and positive).
   */
  domain?: "f2xm1" | "fyl2xp1" | "trig" | "log";
  /** Relate ST(i) (or ST(1), or the memory operand) to ST(0), for two-operand arithmetic. */
  pair?: "st-i" | "st1" | "memory";
  /** An FXSAVE area 8 bytes off its 16-byte alignment (#GP). */
  misaligned?: boolean;
}

const memoryForm = (name: string, op: number, reg: number, operand: Operand, pair?: Form["pair"], prefix: number[] = []): Form =>
  ({ name, bytes: [...prefix, op], reg, operand, check: "exact", pair });
const registerForm = (name: string, op: number, reg: number, rm?: number, extra: Partial<Form> = {}): Form =>
  ({ name, bytes: [op], reg, rm, operand: "none", check: "exact", ...extra });

const ARITH = ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"];
const ARITH_POP = ["FADDP", "FMULP", "FCOMP5", "FCOMPP", "FSUBRP", "FSUBP", "FDIVRP", "FDIVP"];
const DC_REG = ["FADD", "FMUL", "FCOM2", "FCOMP3", "FSUBR", "FSUB", "FDIVR", "FDIV"];

/** Every form the test generates. */
export const FORMS: readonly Form[] = [
  ...ARITH.map((n, reg) => memoryForm(`${n} m32fp`, 0xd8, reg, "m32fp", "memory")),
  ...ARITH.map((n, reg) => memoryForm(`${n} m64fp`, 0xdc, reg, "m64fp", "memory")),
  ...ARITH.map((n, reg) => memoryForm(`FI${n.slice(1)} m32int`, 0xda, reg, "m32int")),
  ...ARITH.map((n, reg) => memoryForm(`FI${n.slice(1)} m16int`, 0xde, reg, "m16int")),
  ...ARITH.map((n, reg) => registerForm(`${n} ST(0),ST(i)`, 0xd8, reg, undefined, { pair: "st-i" })),
  ...DC_REG.map((n, reg) => registerForm(`${n} ST(i),ST(0)`, 0xdc, reg, undefined, { pair: "st-i" })),
  ...ARITH_POP.map((n, reg) => registerForm(`${n} ST(i),ST(0)`, 0xde, reg, reg === 3 ? 1 : undefined, { pair: "st-i" })),
  registerForm("FUCOMPP", 0xda, 5, 1, { pair: "st1" }),
  registerForm("FUCOM ST(i)", 0xdd, 4, undefined, { pair: "st-i" }),
  registerForm("FUCOMP ST(i)", 0xdd, 5, undefined, { pair: "st-i" }),
  registerForm("FUCOMI ST(i)", 0xdb, 5, undefined, { pair: "st-i" }),
  registerForm("FCOMI ST(i)", 0xdb, 6, undefined, { pair: "st-i" }),
  registerForm("FUCOMIP ST(i)", 0xdf, 5, undefined, { pair: "st-i" }),
  registerForm("FCOMIP ST(i)", 0xdf, 6, undefined, { pair: "st-i" }),
  ...[0, 1, 2, 3].map((reg) => registerForm(`FCMOV${["B", "E", "BE", "U"][reg]}`, 0xda, reg)),
  ...[0, 1, 2, 3].map((reg) => registerForm(`FCMOVN${["B", "E", "BE", "U"][reg]}`, 0xdb, reg)),
  memoryForm("FLD m32fp", 0xd9, 0, "m32fp"),
  memoryForm("FST m32fp", 0xd9, 2, "m32fp"),
  memoryForm("FSTP m32fp", 0xd9, 3, "m32fp"),
  memoryForm("FLD m64fp", 0xdd, 0, "m64fp"),
  memoryForm("FST m64fp", 0xdd, 2, "m64fp"),
  memoryForm("FSTP m64fp", 0xdd, 3, "m64fp"),
  memoryForm("FLD m80fp", 0xdb, 5, "m80fp"),
  memoryForm("FSTP m80fp", 0xdb, 7, "m80fp"),
  memoryForm("FILD m16int", 0xdf, 0, "m16int"),
  memoryForm("FIST m16int", 0xdf, 2, "m16int"),
  memoryForm("FISTP m16int", 0xdf, 3, "m16int"),
  memoryForm("FILD m32int", 0xdb, 0, "m32int"),
  memoryForm("FIST m32int", 0xdb, 2, "m32int"),
  memoryForm("FISTP m32int", 0xdb, 3, "m32int"),
  memoryForm("FILD m64int", 0xdf, 5, "m64int"),
  memoryForm("FISTP m64int", 0xdf, 7, "m64int"),
  memoryForm("FBLD m80bcd", 0xdf, 4, "m80bcd"),
  memoryForm("FBSTP m80bcd", 0xdf, 6, "m80bcd"),
  registerForm("FLD ST(i)", 0xd9, 0),
  registerForm("FXCH ST(i)", 0xd9, 1),
  registerForm("FNOP", 0xd9, 2, 0),
  registerForm("FSTP1 ST(i)", 0xd9, 3),
  registerForm("FCHS", 0xd9, 4, 0),
  registerForm("FABS", 0xd9, 4, 1),
  registerForm("FTST", 0xd9, 4, 4),
  registerForm("FXAM", 0xd9, 4, 5),
  ...["FLD1", "FLDL2T", "FLDL2E", "FLDPI", "FLDLG2", "FLDLN2", "FLDZ"].map((n, rm) => registerForm(n, 0xd9, 5, rm)),
  registerForm("F2XM1", 0xd9, 6, 0, { check: "transcendental", domain: "f2xm1" }),
  registerForm("FYL2X", 0xd9, 6, 1, { check: "transcendental", domain: "log" }),
  registerForm("FPTAN", 0xd9, 6, 2, { check: "transcendental", domain: "trig" }),
  registerForm("FPATAN", 0xd9, 6, 3, { check: "transcendental", pair: "st1" }),
  registerForm("FXTRACT", 0xd9, 6, 4),
  registerForm("FPREM1", 0xd9, 6, 5, { pair: "st1" }),
  registerForm("FDECSTP", 0xd9, 6, 6),
  registerForm("FINCSTP", 0xd9, 6, 7),
  registerForm("FPREM", 0xd9, 7, 0, { pair: "st1" }),
  registerForm("FYL2XP1", 0xd9, 7, 1, { check: "transcendental", domain: "fyl2xp1", pair: "st1" }),
  registerForm("FSQRT", 0xd9, 7, 2),
  registerForm("FSINCOS", 0xd9, 7, 3, { check: "transcendental", domain: "trig" }),
  registerForm("FRNDINT", 0xd9, 7, 4),
  registerForm("FSCALE", 0xd9, 7, 5, { pair: "st1" }),
  registerForm("FSIN", 0xd9, 7, 6, { check: "transcendental", domain: "trig" }),
  registerForm("FCOS", 0xd9, 7, 7, { check: "transcendental", domain: "trig" }),
  registerForm("FFREE ST(i)", 0xdd, 0),
  registerForm("FXCH4 ST(i)", 0xdd, 1),
  registerForm("FST ST(i)", 0xdd, 2),
  registerForm("FSTP ST(i)", 0xdd, 3),
  registerForm("FFREEP ST(i)", 0xdf, 0),
  registerForm("FXCH7 ST(i)", 0xdf, 1),
  registerForm("FSTP8 ST(i)", 0xdf, 2),
  registerForm("FSTP9 ST(i)", 0xdf, 3),
  registerForm("FNCLEX", 0xdb, 4, 2),
  registerForm("FNINIT", 0xdb, 4, 3),
  registerForm("FNSTSW AX", 0xdf, 4, 0),
  memoryForm("FNSTSW m16", 0xdd, 7, "m16"),
  memoryForm("FNSTCW m16", 0xd9, 7, "m16"),
  memoryForm("FLDCW m16", 0xd9, 5, "m16"),
  memoryForm("FNSTENV m28", 0xd9, 6, "env"),
  memoryForm("FNSTENV m14", 0xd9, 6, "env", undefined, [0x66]),
  memoryForm("FLDENV m28", 0xd9, 4, "env"),
  memoryForm("FLDENV m14", 0xd9, 4, "env", undefined, [0x66]),
  memoryForm("FNSAVE m108", 0xdd, 6, "save"),
  memoryForm("FNSAVE m94", 0xdd, 6, "save", undefined, [0x66]),
  memoryForm("FRSTOR m108", 0xdd, 4, "save"),
  memoryForm("FRSTOR m94", 0xdd, 4, "save", undefined, [0x66]),
  { name: "FXSAVE", bytes: [0x0f, 0xae], reg: 0, operand: "fx", check: "exact" },
  { name: "FXRSTOR", bytes: [0x0f, 0xae], reg: 1, operand: "fx", check: "exact" },
  { name: "FXSAVE misaligned", bytes: [0x0f, 0xae], reg: 0, operand: "fx", check: "exact", misaligned: true },
  { name: "FXRSTOR misaligned", bytes: [0x0f, 0xae], reg: 1, operand: "fx", check: "exact", misaligned: true },
  registerForm("FWAIT", 0x9b, -1),
  // Segment overrides: FDS records the segment used (CS reads the flat code segment).
  memoryForm("FLD m64fp CS:", 0xdd, 0, "m64fp", undefined, [0x2e]),
  memoryForm("FADD m32fp SS:", 0xd8, 0, "m32fp", undefined, [0x36]),
  memoryForm("FIST m32int ES:", 0xdb, 2, "m32int", undefined, [0x26]),
  // The 8087/287 control opcodes the 387 and later execute as no-ops.
  registerForm("FNENI", 0xdb, 4, 0),
  registerForm("FNDISI", 0xdb, 4, 1),
  registerForm("FNSETPM", 0xdb, 4, 4),
  // Reserved encodings (#UD).
  ...[[0xd9, 2, 1], [0xd9, 4, 2], [0xd9, 4, 3], [0xd9, 4, 6], [0xd9, 4, 7], [0xd9, 5, 7], [0xda, 4], [0xda, 5, 0], [0xda, 5, 2],
    [0xda, 6], [0xda, 7], [0xdb, 4, 5], [0xdb, 4, 6], [0xdb, 4, 7], [0xdb, 7], [0xdd, 6], [0xdd, 7], [0xde, 3, 0], [0xde, 3, 2],
    [0xdf, 4, 1], [0xdf, 4, 7], [0xdf, 7]].map(([op, reg, rm]) =>
    registerForm(`reserved ${op.toString(16)} /${reg}${rm === undefined ? "" : ` rm ${rm}`}`, op, reg, rm)),
  ...[[0xd9, 1], [0xdb, 4], [0xdb, 6], [0xdd, 5]].map(([op, reg]) => memoryForm(`reserved ${op.toString(16)} /${reg} m`, op, reg, "m80fp")),
];

/**
 * The forms that may follow another in a sequence: defined for every input (not F2XM1 and
 * FYL2XP1), and compared exactly (a transcendental's result, which may differ by an ulp, would
 * otherwise reach memory through a later store and be compared byte for byte).
 */
const FOLLOWERS = FORMS.filter((f) => f.check === "exact");

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Operand sizes in bytes. */
const OPERAND_SIZE: Record<Operand, number> = {
  none: 0, m16int: 2, m32int: 4, m64int: 8, m32fp: 4, m64fp: 8, m80fp: 10, m80bcd: 10, m16: 2, env: 28, save: 108, fx: 512,
};

/** Writes `bytes` bytes of `value` little-endian at `at`. */
function put(window: Uint8Array, at: number, bytes: number, value: bigint): void {
  for (let i = 0; i < bytes; i++) window[at + i] = Number((value >> BigInt(i * 8)) & 0xffn);
}

/** m32fp/m64fp bits as the extended value they convert to (denormals normalized). */
function binaryToExtended(bits: bigint, expBits: number, fracBits: number): Ext80 {
  const sign = Number(bits >> BigInt(expBits + fracBits)) & 1 ? 0x8000 : 0;
  const expMax = (1 << expBits) - 1;
  const e = Number((bits >> BigInt(fracBits)) & BigInt(expMax));
  const f = bits & ((1n << BigInt(fracBits)) - 1n);
  const up = BigInt(63 - fracBits);
  if (e === expMax) return { se: sign | 0x7fff, sig: (1n << 63n) | (f << up) };
  if (e === 0 && f === 0n) return { se: sign, sig: 0n };
  const bias = expMax >> 1;
  if (e === 0) {
    let sig = f << up;
    let exp = 1 - bias + 16383;
    while ((sig & (1n << 63n)) === 0n) { sig <<= 1n; exp--; }
    return { se: sign | exp, sig };
  }
  return { se: sign | (e - bias + 16383), sig: (1n << 63n) | (f << up) };
}

/** The state an FRSTOR image holds. */
export interface FpuImage { cw: number; sw: number; tw: number; fip: number; fcsFop: number; fdp: number; fds: number; st: Ext80[] }

/** A random FPU state: every register filled or empty, random modes, mostly masked exceptions. */
function randomImage(r: Random): FpuImage {
  const rc = r.below(4) << 10;
  const pc = r.pick([0, 2, 3, 3, 1]) << 8;
  const masks = r.chance(0.8) ? 0x3f : r.chance(0.5) ? r.bits(6) : 0x3f & ~(1 << r.below(6));
  const cw = Number(masks) | pc | rc | 0x40 | (r.chance(0.1) ? Number(r.bits(16)) & 0xe080 : 0);
  const top = r.below(8);
  const flags = r.chance(0.85) ? 0 : Number(r.bits(7));
  const sw = flags | (Number(r.bits(16)) & 0x4700) | (top << 11);
  let tw = 0;
  const st: Ext80[] = [];
  for (let i = 0; i < 8; i++) {
    const empty = r.chance(0.15);
    if (empty) tw |= 3 << (((top + i) & 7) * 2);
    st.push(extended(r));
  }
  return { cw, sw, tw, fip: r.u32(), fcsFop: r.u32() & 0x07ffffff, fdp: r.u32(), fds: r.u32() & 0xffff, st };
}

/** Writes an FRSTOR/FNSAVE 32-bit protected-mode image. */
export function writeImage(window: Uint8Array, at: number, image: FpuImage): void {
  const words = [image.cw, image.sw, image.tw, image.fip, image.fcsFop, image.fdp, image.fds];
  words.forEach((w, i) => put(window, at + i * 4, 4, BigInt(w >>> 0)));
  image.st.forEach((v, i) => {
    put(window, at + 28 + i * 10, 8, v.sig);
    put(window, at + 36 + i * 10, 2, BigInt(v.se));
  });
}

/** The x87's pi/2 in units of 2^-65 (pi rounded to 66 bits, as FSIN/FCOS/FPTAN reduce by it). */
const HALF_PI66 = 0x3243f6a8885a308d3n;

/** A value for ST(0) drawn for a form's domain. */
function inDomain(r: Random, domain: NonNullable<Form["domain"]>): Ext80 {
  const special = extended(r);
  const exp = special.se & 0x7fff;
  const sign = special.se & 0x8000;
  if (domain === "trig") {
    if (r.chance(0.5)) return special;
    // Next to k * pi66/2: the reduction cancels almost every bit there.
    const k = r.bits(1 + r.below(62)) || 1n;
    let x = k * HALF_PI66;
    let e = 16383 + 63 - 65;
    while (x >= 1n << 64n) { x >>= 1n; e++; }
    while (x < 1n << 63n) { x <<= 1n; e--; }
    return { se: sign | e, sig: (x + BigInt(r.below(5) - 2)) & ((1n << 64n) - 1n) | (1n << 63n) };
  }
  if (domain === "log") {
    if (r.chance(0.3)) return special;
    // Positive, often within a few units of 1 (where log2 cancels).
    if (r.chance(0.4)) return r.chance(0.5) ? { se: 0x3fff, sig: (1n << 63n) + BigInt(r.below(1 << 16)) } : { se: 0x3ffe, sig: (1n << 64n) - 1n - BigInt(r.below(1 << 16)) };
    return { se: exp, sig: special.sig | (1n << 63n) };
  }
  // Specials (zeros, denormals, NaNs, unsupported, infinities for F2XM1) pass as they are.
  if (exp === 0 || exp === 0x7fff || (special.sig >> 63n) === 0n) {
    if (domain === "fyl2xp1" && exp === 0x7fff && special.sig === 1n << 63n) return { se: sign, sig: 0n };
    return special;
  }
  // Finite normals inside the domain: |x| <= 1 for F2XM1 (the ends included), |x| < 1 - sqrt(2)/2
  // (0.2929) for FYL2XP1 (below 1.125 * 2^-2 in its top binade).
  if (domain === "f2xm1" && r.chance(0.05)) return { se: sign | 16383, sig: 1n << 63n };
  const maxExp = domain === "f2xm1" ? 16382 : 16381;
  const e = r.chance(0.3) ? maxExp - r.below(100) : maxExp - r.below(8);
  const sig = domain === "fyl2xp1" && e === 16381 ? (1n << 63n) | (special.sig & 0x0fffffffffffffffn) : special.sig;
  return { se: sign | e, sig };
}

/** One generated case and what it is made of. */
export interface GeneratedCase { case: X87Case; forms: Form[]; transcendental: boolean; names: string }

/** The code of a case: FRSTOR [STATE], the instructions, FNSAVE [OUT]. */
function assemble(instructions: number[][]): Uint8Array {
  const code = [0xdd, 0x25, ...le32(WINDOW_BASE + WIN_STATE), ...instructions.flat(), 0xdd, 0x35, ...le32(WINDOW_BASE + WIN_OUT)];
  if (code.length > CODE_MAX) throw new Error(`case code of ${code.length} bytes`);
  return Uint8Array.from(code);
}

/** Generates a case of one to three forms (the first from `forms`, the others from FORMS). */
export function generateCase(r: Random, forms: readonly Form[]): GeneratedCase {
  const chosen = [r.pick(forms)];
  const count = chosen[0].check === "transcendental" || r.chance(0.85) ? 1 : 2 + r.below(2);
  for (let i = 1; i < count; i++) {
    // One FXSAVE-area form per case: a second image would overwrite the first one's MXCSR,
    // which the host's FXRSTOR checks and the core (no SSE) ignores.
    const follower = r.pick(FOLLOWERS);
    if (follower.operand !== "fx" || !chosen.some((f) => f.operand === "fx")) chosen.push(follower);
  }
  const window = new Uint8Array(WINDOW_SIZE);
  for (let i = 0; i < WINDOW_SIZE; i++) window[i] = r.below(256);
  const image = randomImage(r);
  const first = chosen[0];
  if (first.domain) image.st[0] = inDomain(r, first.domain);
  const rmOf = chosen.map((f) => f.rm ?? r.below(8));
  if (first.pair === "st-i" && rmOf[0] !== 0 && r.chance(0.5)) image.st[rmOf[0]] = related(r, image.st[0]);
  if (first.pair === "st1" && r.chance(0.5)) image.st[1] = related(r, image.st[0]);
  // A floating-point memory operand, drawn first so that ST(0) can be made near it.
  const [expBits, fracBits] = first.operand === "m32fp" ? [8, 23] : [11, 52];
  const firstBits = binaryBits(r, expBits, fracBits);
  if (first.pair === "memory" && r.chance(0.4)) image.st[0] = related(r, binaryToExtended(firstBits, expBits, fracBits));
  writeImage(window, WIN_STATE, image);
  const usesFx = chosen.some((f) => f.operand === "fx");
  const instructions = chosen.map((form, n) => {
    if (form.operand === "none") return form.reg < 0 ? [...form.bytes] : [...form.bytes, 0xc0 | (form.reg << 3) | rmOf[n]];
    const at = operandOffset(r, form.operand, usesFx, form.misaligned);
    if (n === 0 && form.pair === "memory") put(window, at, form.operand === "m32fp" ? 4 : 8, firstBits);
    else fillOperand(r, window, at, form);
    return [...form.bytes, (form.reg << 3) | 5, ...le32(WINDOW_BASE + at)];
  });
  const code = assemble(instructions);
  return {
    case: { code, eflags: r.u32(), eax: r.u32(), window },
    forms: chosen,
    transcendental: chosen.some((f) => f.check === "transcendental"),
    names: chosen.map((f) => f.name).join("; "),
  };
}

/** Where a memory operand goes: the operand area, or across the page boundary. */
function operandOffset(r: Random, operand: Operand, usesFx: boolean, misaligned = false): number {
  const size = OPERAND_SIZE[operand];
  if (operand === "fx") return WIN_FXSAVE + (misaligned ? 8 : 0);
  if (!usesFx && size > 1 && r.chance(0.15)) return PAGE_CROSS - 1 - r.below(size - 1);
  return WIN_MEM + (size >= 28 ? r.below(4) * 4 : r.below(256 - 16 - size));
}

/** Fills a form's memory operand with a value of its type. */
function fillOperand(r: Random, window: Uint8Array, at: number, form: Form): void {
  switch (form.operand) {
    case "m16int": case "m32int": case "m64int": {
      const bytes = OPERAND_SIZE[form.operand];
      put(window, at, bytes, integerBits(r, bytes));
      return;
    }
    case "m32fp": case "m64fp": {
      const [expBits, fracBits, bytes] = form.operand === "m32fp" ? [8, 23, 4] : [11, 52, 8];
      put(window, at, bytes, binaryBits(r, expBits, fracBits));
      return;
    }
    case "m80fp": {
      const v = extended(r);
      put(window, at, 8, v.sig);
      put(window, at + 8, 2, BigInt(v.se));
      return;
    }
    case "m80bcd": put(window, at, 10, bcdBits(r)); return;
    case "m16": put(window, at, 2, r.chance(0.5) ? BigInt((r.u32() & 0x1f3f) | 0x40) : BigInt(r.u32() & 0xffff)); return;
    case "env": case "save": {
      const image = randomImage(r);
      const big = form.bytes[0] !== 0x66;
      if (big) {
        writeImage(window, at, image);
      } else {
        // The 16-bit layout: seven words, then the registers.
        [image.cw, image.sw, image.tw, image.fip, image.fcsFop, image.fdp, image.fds].forEach((w, i) => put(window, at + i * 2, 2, BigInt(w & 0xffff)));
        image.st.forEach((v, i) => {
          put(window, at + 14 + i * 10, 8, v.sig);
          put(window, at + 22 + i * 10, 2, BigInt(v.se));
        });
      }
      return;
    }
    case "fx": {
      const image = randomImage(r);
      put(window, at, 2, BigInt(image.cw));
      put(window, at + 2, 2, BigInt(image.sw));
      put(window, at + 4, 1, r.bits(8));
      put(window, at + 5, 1, 0n);
      put(window, at + 6, 2, BigInt(image.fcsFop >>> 16));
      put(window, at + 8, 4, BigInt(image.fip >>> 0));
      put(window, at + 12, 4, BigInt(image.fcsFop & 0xffff));
      put(window, at + 16, 4, BigInt(image.fdp >>> 0));
      put(window, at + 20, 4, BigInt(image.fds));
      put(window, at + 24, 4, 0x1f80n); // MXCSR as reset: the host's FXRSTOR faults on reserved bits
      image.st.forEach((v, i) => {
        put(window, at + 32 + i * 16, 8, v.sig);
        put(window, at + 40 + i * 16, 2, BigInt(v.se));
      });
      return;
    }
    default:
  }
}
