/**
 * The differential test's instruction table: one row per instruction form, named in the SDM's
 * operand notation (Intel SDM vol. 2, appendix A: E = ModRM operand, G = ModRM reg, I = immediate,
 * Z = register in the opcode, b/w/v/z = byte/word/operand-size/16-or-32, J = relative, O = moffs,
 * X/Y = DS:eSI/ES:eDI), with the opcode where the notation alone is ambiguous. Each row generates
 * a case for one random instance of its form and marks what the SDM leaves undefined afterwards
 * (flags, registers), which the comparison masks. Counts, values and addresses are biased toward
 * edge cases: zero, one, sign boundaries, all ones, shift counts at and beyond the width.
 *
 * Deliberate limits (what the opcode map allows but the rows do not generate, and why):
 * - 16-bit SHLD/SHRD by more than 16: the result is undefined.
 * - PUSH Sreg pre-zeroes the upper half of its 32-bit slot: CPUs either zero-extend or write 16
 *   bits, and the SDM allows both.
 * - Branches never carry 0x66 (in 32-bit code a 16-bit EIP would leave the code page); in 16-bit
 *   code they use the default 16-bit size, relative and indirect.
 * - A fraction of cases (CODE16_SHARE) runs in 16-bit code, except the rows in CODE32_ONLY.
 * - ENTER frames stay inside the DATA area: CPUs may probe the new stack bottom.
 * - LOCK only on read-modify-write memory forms, except in the rows that expect its #UD.
 * - Instructions that need descriptor tables, an IDT, I/O privilege or x87 are left out;
 *   coverage.ts lists every such opcode slot with its reason.
 */
import {
  AF, CF, DS, EAX, EBP, EBX, ECX, EDI, EDX, ESI, FS, GS, OF, PF, SEG_PREFIX, SF, ZF, CS, ES, SS,
  CaseBuilder, Rng, caseSeed, hex, le, mask, regName, type Access, type Ea, type GeneratedCase, type Size,
} from "./builder";
import { DATA_BASE, DATA_SIZE, EFLAGS_ARITH, EFLAGS_FIXED, EFLAGS_INPUT } from "./case-format";

/** One instruction form under test. */
export interface Row {
  /** SDM notation, e.g. "ADD Ev,Gv" or "ADD Ev,Ib (83 /0)". */
  readonly name: string;
  /** Exception vectors the host may raise for this row's cases (e.g. #DE for DIV). */
  readonly faults: readonly number[];
  /** Emits one case into the builder. */
  readonly generate: (b: CaseBuilder) => void;
}

/** Exception vectors (SDM vol. 3, table 6-1). */
export const VECTOR = { DE: 0, BR: 5, UD: 6 } as const;

const row = (name: string, generate: (b: CaseBuilder) => void, faults: readonly number[] = []): Row => ({ name, generate, faults });
const h2 = (v: number): string => v.toString(16).toUpperCase().padStart(2, "0");
const CC = ["O", "NO", "B", "AE", "E", "NE", "BE", "A", "S", "NS", "P", "NP", "L", "GE", "LE", "G"];
const SREG_NAMES = ["ES", "CS", "SS", "DS", "FS", "GS"];

interface FormOpts {
  access: Access;
  lockable?: boolean;
  undefinedFlags?: number;
}

/** A LOCK prefix now and then where the SDM allows one: a read-modify-write memory destination. */
const maybeLock = (b: CaseBuilder, opts: FormOpts, ea: Ea): boolean => opts.lockable === true && ea.kind === "mem" && b.rng.chance(0.3);

/** `op E,G` or `op G,E`: a ModRM operand and a register, both given test values. */
function modrmForm(b: CaseBuilder, size: Size, op: readonly number[], opts: FormOpts): void {
  const e = b.rm(size, { access: opts.access });
  const g = b.gpr(size);
  const [x, y] = b.valuePair(size);
  b.set(e, size, x);
  b.set(g, size, y);
  b.emit({ op, size, ea: e, reg: g.reg, lock: maybeLock(b, opts, e), note: regName(g.reg, size) });
  b.undefinedFlags |= opts.undefinedFlags ?? 0;
}

/** `op E,I` in a group opcode (/ext), the immediate `immSize` bytes (sign-extended when shorter). */
function groupImm(b: CaseBuilder, size: Size, op: number, ext: number, immSize: Size, opts: FormOpts): void {
  const e = b.rm(size, { access: opts.access });
  b.set(e, size, b.value(size));
  b.emit({ op: [op], size, ea: e, reg: ext, imm: le(b.value(immSize), immSize), lock: maybeLock(b, opts, e) });
  b.undefinedFlags |= opts.undefinedFlags ?? 0;
}

/** `op E` in a group opcode. */
function groupUnary(b: CaseBuilder, size: Size, op: number, ext: number, opts: FormOpts): Ea {
  const e = b.rm(size, { access: opts.access });
  b.set(e, size, b.value(size));
  b.emit({ op: [op], size, ea: e, reg: ext, lock: maybeLock(b, opts, e) });
  b.undefinedFlags |= opts.undefinedFlags ?? 0;
  return e;
}

/** `op AL/eAX, imm`. */
function accImm(b: CaseBuilder, size: Size, op: number, undefinedFlags: number): void {
  b.setReg(EAX, size, b.value(size));
  b.emit({ op: [op], size, imm: le(b.value(size), size) });
  b.undefinedFlags |= undefinedFlags;
}

/** Byte and operand-size twins of a row: `b` gives size 1, `v` 16 or 32 bits. */
const sized = (b: CaseBuilder, kind: "b" | "v"): Size => (kind === "b" ? 1 : b.vsize());

// ---------------------------------------------------------------------------------------------
// Arithmetic and logic

const ALU = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"];

function aluRows(): Row[] {
  return ALU.flatMap((mn, n) => {
    // Logic ops leave AF undefined; CMP writes nothing.
    const undefinedFlags = mn === "OR" || mn === "AND" || mn === "XOR" ? AF : 0;
    const dest: FormOpts = { access: mn === "CMP" ? "r" : "rw", lockable: mn !== "CMP", undefinedFlags };
    const src: FormOpts = { access: "r", undefinedFlags };
    const base = n << 3;
    return [
      row(`${mn} Eb,Gb`, (b) => modrmForm(b, 1, [base], dest)),
      row(`${mn} Ev,Gv`, (b) => modrmForm(b, b.vsize(), [base + 1], dest)),
      row(`${mn} Gb,Eb`, (b) => modrmForm(b, 1, [base + 2], src)),
      row(`${mn} Gv,Ev`, (b) => modrmForm(b, b.vsize(), [base + 3], src)),
      row(`${mn} AL,Ib`, (b) => accImm(b, 1, base + 4, undefinedFlags)),
      row(`${mn} eAX,Iz`, (b) => accImm(b, b.vsize(), base + 5, undefinedFlags)),
      row(`${mn} Eb,Ib (80 /${n})`, (b) => groupImm(b, 1, 0x80, n, 1, dest)),
      row(`${mn} Eb,Ib (82 /${n})`, (b) => groupImm(b, 1, 0x82, n, 1, dest)),
      row(`${mn} Ev,Iz (81 /${n})`, (b) => {
        const size = b.vsize();
        groupImm(b, size, 0x81, n, size, dest);
      }),
      row(`${mn} Ev,Ib (83 /${n})`, (b) => groupImm(b, b.vsize(), 0x83, n, 1, dest)),
    ];
  });
}

function incDecRows(): Row[] {
  return (["INC", "DEC"] as const).flatMap((mn, ext) => [
    row(`${mn} Eb (FE /${ext})`, (b) => void groupUnary(b, 1, 0xfe, ext, { access: "rw", lockable: true })),
    row(`${mn} Ev (FF /${ext})`, (b) => void groupUnary(b, b.vsize(), 0xff, ext, { access: "rw", lockable: true })),
    row(`${mn} Zv (${h2(0x40 + ext * 8)}+r)`, (b) => {
      const size = b.vsize();
      const r = b.gpr(size);
      b.set(r, size, b.value(size));
      b.emit({ op: [0x40 + ext * 8 + r.reg], size, note: r.text });
    }),
  ]);
}

function testRows(): Row[] {
  const opts: FormOpts = { access: "r", undefinedFlags: AF };
  return [
    row("TEST Eb,Gb", (b) => modrmForm(b, 1, [0x84], opts)),
    row("TEST Ev,Gv", (b) => modrmForm(b, b.vsize(), [0x85], opts)),
    row("TEST AL,Ib", (b) => accImm(b, 1, 0xa8, AF)),
    row("TEST eAX,Iz", (b) => accImm(b, b.vsize(), 0xa9, AF)),
    row("TEST Eb,Ib (F6 /0)", (b) => groupImm(b, 1, 0xf6, 0, 1, opts)),
    row("TEST Ev,Iz (F7 /0)", (b) => {
      const size = b.vsize();
      groupImm(b, size, 0xf7, 0, size, opts);
    }),
  ];
}

function notNegRows(): Row[] {
  return (["NOT", "NEG"] as const).flatMap((mn, i) =>
    (["b", "v"] as const).map((kind) =>
      row(`${mn} E${kind} (${kind === "b" ? "F6" : "F7"} /${2 + i})`, (b) => void groupUnary(b, sized(b, kind), kind === "b" ? 0xf6 : 0xf7, 2 + i, { access: "rw", lockable: true }))),
  );
}

// ---------------------------------------------------------------------------------------------
// Multiplication and division

const signedOf = (v: number, size: Size): number => (size === 4 ? v | 0 : (v << (32 - size * 8)) >> (32 - size * 8));

/** Loads the dividend or multiplicand pair: AX for bytes, DX:AX or EDX:EAX otherwise. */
function setWide(b: CaseBuilder, size: Size, value: bigint): void {
  const bits = BigInt(size * 8);
  const low = Number(value & ((1n << bits) - 1n));
  const high = Number((value >> bits) & ((1n << bits) - 1n));
  if (size === 1) b.setReg(EAX, 2, (high << 8) | low);
  else {
    b.setReg(EAX, size, low);
    b.setReg(EDX, size, high);
    b.hold(EDX);
  }
  b.hold(EAX);
}

function mulRows(): Row[] {
  const rows = (["MUL", "IMUL"] as const).flatMap((mn, i) =>
    (["b", "v"] as const).map((kind) =>
      row(`${mn} E${kind} (${kind === "b" ? "F6" : "F7"} /${4 + i})`, (b) => {
        const size = sized(b, kind);
        b.setReg(EAX, size, b.value(size));
        b.hold(EAX);
        groupUnary(b, size, kind === "b" ? 0xf6 : 0xf7, 4 + i, { access: "r", undefinedFlags: SF | ZF | AF | PF });
      })),
  );
  const imul = (name: string, op: readonly number[], immSize: (size: Size) => Size | 0): Row =>
    row(name, (b) => {
      const size = b.vsize();
      const e = b.rm(size, { access: "r" });
      const g = b.gpr(size);
      b.set(e, size, b.value(size));
      b.set(g, size, b.value(size));
      const n = immSize(size);
      b.emit({ op, size, ea: e, reg: g.reg, note: regName(g.reg, size), imm: n === 0 ? [] : le(b.value(n), n) });
      b.undefinedFlags |= SF | ZF | AF | PF;
    });
  return [
    ...rows,
    imul("IMUL Gv,Ev (0F AF)", [0x0f, 0xaf], () => 0),
    imul("IMUL Gv,Ev,Iz (69)", [0x69], (size) => size),
    imul("IMUL Gv,Ev,Ib (6B)", [0x6b], () => 1),
  ];
}

/**
 * A dividend and divisor: mostly a valid division built from quotient and remainder, sometimes
 * a zero divisor or a quotient too large (both #DE), including the signed minimum over -1.
 */
function division(b: CaseBuilder, size: Size, signed: boolean): [bigint, number] {
  const { rng } = b;
  const bits = BigInt(size * 8);
  const wide = (1n << (2n * bits)) - 1n;
  const choice = rng.below(10);
  if (choice === 0) return [BigInt(rng.u32()) * BigInt(rng.u32()) & wide, 0];
  if (choice === 1 && signed) return [-(1n << (bits - 1n)) & wide, mask(size)];
  if (choice === 1) return [(BigInt(rng.u32()) << 32n | BigInt(rng.u32())) & wide, b.value(size) || 1];
  const divisor = b.value(size) || 1;
  const d = signed ? BigInt(signedOf(divisor, size)) : BigInt(divisor);
  const q = signed ? BigInt(signedOf(b.value(size), size)) : BigInt(b.value(size));
  const magnitude = d < 0n ? -d : d;
  const r0 = BigInt(rng.u32()) % magnitude;
  // The remainder takes the dividend's sign (truncating division).
  const r = signed && (q * d < 0n || (q * d === 0n && rng.chance(0.5))) ? -r0 : r0;
  return [(q * d + r) & wide, divisor];
}

function divRows(): Row[] {
  return (["DIV", "IDIV"] as const).flatMap((mn, i) =>
    (["b", "v"] as const).map((kind) =>
      row(`${mn} E${kind} (${kind === "b" ? "F6" : "F7"} /${6 + i})`, (b) => {
        const size = sized(b, kind);
        const [dividend, divisor] = division(b, size, mn === "IDIV");
        setWide(b, size, dividend);
        const e = b.rm(size, { access: "r" });
        b.set(e, size, divisor);
        b.emit({ op: [kind === "b" ? 0xf6 : 0xf7], size, ea: e, reg: 6 + i });
        b.undefinedFlags |= EFLAGS_ARITH;
      }, [VECTOR.DE])),
  );
}

// ---------------------------------------------------------------------------------------------
// Shifts and rotates

const SHIFTS: readonly [string, number][] = [["ROL", 0], ["ROR", 1], ["RCL", 2], ["RCR", 3], ["SHL", 4], ["SHR", 5], ["SAR", 7]];

/** A shift count: the edges around the operand width and the 5-bit mask, or anything. */
function shiftCount(b: CaseBuilder, bits: number): number {
  return b.rng.pick([0, 1, 2, 3, bits - 1, bits, bits + 1, 31, 32, 33, 63, 255, b.rng.below(256), b.rng.below(32), b.rng.below(32)]);
}

/**
 * What a shift or rotate leaves undefined (SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR): nothing
 * for a masked count of 0; OF unless the count is 1; AF for shifts; CF for SHL/SHR by the width
 * or more.
 */
function shiftUndefined(ext: number, bits: number, count: number): number {
  const c = count & 31;
  if (c === 0) return 0;
  const of = c === 1 ? 0 : OF;
  if (ext < 4) return of;
  return of | AF | ((ext === 4 || ext === 5) && c >= bits ? CF : 0);
}

function shiftRows(): Row[] {
  const forms: readonly [string, number, "b" | "v", "1" | "CL" | "Ib"][] = [
    ["Eb,1", 0xd0, "b", "1"], ["Ev,1", 0xd1, "v", "1"], ["Eb,CL", 0xd2, "b", "CL"],
    ["Ev,CL", 0xd3, "v", "CL"], ["Eb,Ib", 0xc0, "b", "Ib"], ["Ev,Ib", 0xc1, "v", "Ib"],
  ];
  return SHIFTS.flatMap(([mn, ext]) =>
    forms.map(([operands, op, kind, source]) =>
      row(`${mn} ${operands} (${h2(op)} /${ext})`, (b) => {
        const size = sized(b, kind);
        const count = source === "1" ? 1 : shiftCount(b, size * 8);
        if (source === "CL") b.reserve(ECX, (b.rng.u32() & ~0xff) | count);
        const e = b.rm(size, { access: "rw" });
        b.set(e, size, b.value(size));
        b.emit({ op: [op], size, ea: e, reg: ext, imm: source === "Ib" ? [count] : [] });
        b.undefinedFlags |= shiftUndefined(ext, size * 8, source === "CL" ? b.reg(ECX, 1) : count);
      })),
  );
}

function doubleShiftRows(): Row[] {
  return ([["SHLD", 0xa4], ["SHRD", 0xac]] as const).flatMap(([mn, op]) =>
    (["Ib", "CL"] as const).map((source, i) =>
      row(`${mn} Ev,Gv,${source} (0F ${h2(op + i)})`, (b) => {
        const size = b.vsize();
        let count = shiftCount(b, size * 8);
        // A 16-bit operand shifted by more than 16 gives an undefined result: not generated.
        if (size === 2 && (count & 31) > 16) count = (count & 0xe0) | b.rng.int(0, 16);
        if (source === "CL") b.reserve(ECX, (b.rng.u32() & ~0xff) | count);
        const e = b.rm(size, { access: "rw" });
        const g = b.gpr(size);
        b.set(e, size, b.value(size));
        b.set(g, size, b.value(size));
        b.emit({ op: [0x0f, op + i], size, ea: e, reg: g.reg, note: regName(g.reg, size), imm: source === "Ib" ? [count] : [] });
        const c = (source === "CL" ? b.reg(ECX, 1) : count) & 31;
        b.undefinedFlags |= c === 0 ? 0 : AF | (c === 1 ? 0 : OF);
      })),
  );
}

// ---------------------------------------------------------------------------------------------
// Bit operations

const BIT_OPS: readonly [string, number, number][] = [["BT", 0xa3, 4], ["BTS", 0xab, 5], ["BTR", 0xb3, 6], ["BTC", 0xbb, 7]];
/** BT* leave OF SF AF PF undefined; ZF is unaffected. */
const BT_UNDEFINED = OF | SF | AF | PF;

function bitRows(): Row[] {
  return BIT_OPS.flatMap(([mn, op, ext]) => {
    const opts: FormOpts = { access: mn === "BT" ? "r" : "rw", lockable: mn !== "BT", undefinedFlags: BT_UNDEFINED };
    return [
      row(`${mn} Ev,Gv (0F ${h2(op)})`, (b) => {
        const size = b.vsize();
        const bits = size * 8;
        // A memory operand's bit offset is signed and reaches beyond the operand: pick the unit
        // it lands in inside the DATA area, then a bit in it. A register takes it modulo the width.
        const e = b.rng.chance(0.5) ? b.gpr(size) : b.mem(size, { access: opts.access, span: 4 });
        const g = b.gpr(size, e.kind === "mem");
        b.set(e, size, b.value(size));
        if (e.kind === "reg") b.set(g, size, b.value(size));
        else {
          const units = [-Math.floor(e.offset / size), Math.floor((DATA_SIZE - 4 - e.offset) / size)];
          const unit = b.rng.chance(0.5) ? b.rng.int(Math.max(units[0], -2), Math.min(units[1], 2)) : b.rng.int(units[0], units[1]);
          b.set(g, size, (unit * bits + b.rng.below(bits)) & mask(size));
        }
        b.emit({ op: [0x0f, op], size, ea: e, reg: g.reg, note: regName(g.reg, size), lock: maybeLock(b, opts, e) });
        b.undefinedFlags |= BT_UNDEFINED;
      }),
      row(`${mn} Ev,Ib (0F BA /${ext})`, (b) => {
        const size = b.vsize();
        const e = b.rm(size, opts);
        b.set(e, size, b.value(size));
        b.emit({ op: [0x0f, 0xba], size, ea: e, reg: ext, imm: [b.rng.below(256)], lock: maybeLock(b, opts, e) });
        b.undefinedFlags |= BT_UNDEFINED;
      }),
    ];
  });
}

function bitScanRows(): Row[] {
  return ([["BSF", 0xbc], ["BSR", 0xbd]] as const).map(([mn, op]) =>
    row(`${mn} Gv,Ev (0F ${h2(op)})`, (b) => {
      const size = b.vsize();
      const e = b.rm(size, { access: "r" });
      const g = b.gpr(size);
      b.set(g, size, b.value(size));
      b.set(e, size, b.rng.chance(0.2) ? 0 : b.value(size));
      b.emit({ op: [0x0f, op], size, ea: e, reg: g.reg, note: regName(g.reg, size) });
      b.undefinedFlags |= CF | OF | SF | AF | PF;
      // A zero source leaves the destination undefined (ZF = 1 is defined).
      if (b.get(e, size) === 0) b.undefinedRegs |= 1 << g.reg;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Data movement

function movRows(): Row[] {
  const moffs = (name: string, op: number, kind: "b" | "v", access: Access): Row =>
    row(name, (b) => {
      const size = sized(b, kind);
      const o = b.rng.int(0, DATA_SIZE - size);
      const a16 = b.seg16 && b.rng.chance(0.5);
      const seg0 = b.override(access, a16);
      const offset = b.offsetIn(seg0 ?? DS, o);
      if (access === "r") b.write(o, size, b.value(size));
      else b.setReg(EAX, size, b.value(size));
      const prefixes = [...b.addrPrefix(a16), ...(seg0 === undefined ? [] : [SEG_PREFIX[seg0]])];
      b.emit({ op: [op], size, prefixes, imm: le(offset, a16 ? 2 : 4), note: `moffs -> DATA+${hex(o)}` });
    });
  return [
    row("MOV Eb,Gb (88)", (b) => modrmForm(b, 1, [0x88], { access: "w" })),
    row("MOV Ev,Gv (89)", (b) => modrmForm(b, b.vsize(), [0x89], { access: "w" })),
    row("MOV Gb,Eb (8A)", (b) => modrmForm(b, 1, [0x8a], { access: "r" })),
    row("MOV Gv,Ev (8B)", (b) => modrmForm(b, b.vsize(), [0x8b], { access: "r" })),
    row("MOV Eb,Ib (C6 /0)", (b) => groupImm(b, 1, 0xc6, 0, 1, { access: "w" })),
    row("MOV Ev,Iz (C7 /0)", (b) => {
      const size = b.vsize();
      groupImm(b, size, 0xc7, 0, size, { access: "w" });
    }),
    row("MOV Zb,Ib (B0+r)", (b) => {
      const r = b.rng.below(8);
      b.emit({ op: [0xb0 + r], imm: [b.value(1)], note: regName(r, 1) });
    }),
    row("MOV Zv,Iv (B8+r)", (b) => {
      const size = b.vsize();
      const r = b.rng.below(8);
      b.emit({ op: [0xb8 + r], size, imm: le(b.value(size), size), note: regName(r, size) });
    }),
    moffs("MOV AL,Ob (A0)", 0xa0, "b", "r"),
    moffs("MOV eAX,Ov (A1)", 0xa1, "v", "r"),
    moffs("MOV Ob,AL (A2)", 0xa2, "b", "w"),
    moffs("MOV Ov,eAX (A3)", 0xa3, "v", "w"),
    // A memory destination always takes 16 bits; a 32-bit register is zero-extended (P6 and later).
    row("MOV Ev,Sw (8C)", (b) => {
      const sreg = b.rng.below(6);
      const e = b.rm(2, { access: "w" });
      b.emit({ op: [0x8c], size: b.rng.chance(0.5) ? 2 : 4, ea: e, reg: sreg, note: SREG_NAMES[sreg] });
    }),
    ...([["MOVZX Gv,Eb (0F B6)", 0xb6, 1], ["MOVZX Gv,Ew (0F B7)", 0xb7, 2], ["MOVSX Gv,Eb (0F BE)", 0xbe, 1], ["MOVSX Gv,Ew (0F BF)", 0xbf, 2]] as const).map(([name, op, from]) =>
      row(name, (b) => {
        const size = b.vsize();
        const e = b.rm(from, { access: "r" });
        const g = b.gpr(size);
        b.set(e, from, b.value(from));
        b.emit({ op: [0x0f, op], size, ea: e, reg: g.reg, note: regName(g.reg, size) });
      })),
    row("LEA Gv,M (8D)", (b) => {
      const size = b.vsize();
      const e = b.mem(size, { access: "none" });
      const g = b.gpr(size);
      b.emit({ op: [0x8d], size, ea: e, reg: g.reg, note: regName(g.reg, size) });
    }),
    row("XCHG Eb,Gb (86)", (b) => modrmForm(b, 1, [0x86], { access: "rw", lockable: true })),
    row("XCHG Ev,Gv (87)", (b) => modrmForm(b, b.vsize(), [0x87], { access: "rw", lockable: true })),
    row("XCHG Zv,eAX (91-97)", (b) => {
      const size = b.vsize();
      const r = b.rng.int(1, 7);
      b.emit({ op: [0x90 + r], size, note: regName(r, size) });
    }),
    row("BSWAP Zd (0F C8+r)", (b) => {
      const r = b.rng.below(8);
      // 32-bit only: BSWAP of a 16-bit register is undefined.
      b.emit({ op: [0x0f, 0xc8 + r], size: 4, note: regName(r, 4) });
    }),
    row("CBW/CWDE (98)", (b) => {
      const size = b.vsize();
      b.setReg(EAX, size === 2 ? 1 : 2, b.value(size === 2 ? 1 : 2));
      b.emit({ op: [0x98], size });
    }),
    row("CWD/CDQ (99)", (b) => {
      const size = b.vsize();
      b.setReg(EAX, size, b.value(size));
      b.emit({ op: [0x99], size });
    }),
    row("XLAT (D7)", (b) => {
      const a16 = b.seg16 && b.rng.chance(0.5);
      const al = b.value(1);
      b.setReg(EAX, 1, al);
      b.hold(EAX);
      const o = b.rng.int(0, DATA_SIZE - 1);
      const seg0 = b.override("r", a16);
      const want = b.offsetIn(seg0 ?? DS, o) - al;
      b.reserve(EBX, a16 ? (b.rng.u32() & 0xffff0000) | (want & 0xffff) : want >>> 0);
      const prefixes = [...b.addrPrefix(a16), ...(seg0 === undefined ? [] : [SEG_PREFIX[seg0]])];
      b.emit({ op: [0xd7], prefixes, note: `-> DATA+${hex(o)}` });
    }),
  ];
}

function exchangeRows(): Row[] {
  const cmpxchg = (kind: "b" | "v", op: number): Row =>
    row(`CMPXCHG E${kind},G${kind} (0F ${h2(op)})`, (b) => {
      const size = sized(b, kind);
      b.setReg(EAX, size, b.value(size));
      b.hold(EAX);
      const e = b.rm(size, { access: "rw" });
      const g = b.gpr(size);
      // Half the time the destination matches the accumulator (the exchange happens).
      b.set(e, size, b.rng.chance(0.5) ? b.reg(EAX, size) : b.value(size));
      b.set(g, size, b.value(size));
      b.emit({ op: [0x0f, op], size, ea: e, reg: g.reg, note: regName(g.reg, size), lock: maybeLock(b, { access: "rw", lockable: true }, e) });
    });
  const xadd = (kind: "b" | "v", op: number): Row =>
    row(`XADD E${kind},G${kind} (0F ${h2(op)})`, (b) => modrmForm(b, sized(b, kind), [0x0f, op], { access: "rw", lockable: true }));
  return [
    cmpxchg("b", 0xb0),
    cmpxchg("v", 0xb1),
    row("CMPXCHG8B Mq (0F C7 /1)", (b) => {
      const [lo, hi] = [b.value(4), b.value(4)];
      const equal = b.rng.chance(0.5);
      b.reserve(EAX, equal ? lo : b.value(4));
      b.reserve(EDX, equal ? hi : b.value(4));
      b.reserve(EBX, b.value(4));
      b.reserve(ECX, b.value(4));
      const e = b.mem(4, { access: "rw", span: 8 });
      b.write(e.offset, 4, lo);
      b.write(e.offset + 4, 4, hi);
      b.emit({ op: [0x0f, 0xc7], ea: e, reg: 1, lock: b.rng.chance(0.3) });
    }),
    xadd("b", 0xc0),
    xadd("v", 0xc1),
  ];
}

/**
 * A random ALU operation (ADD OR ADC SBB AND SUB XOR CMP, Eb,Gb or Ev,Gv) whose flags the next
 * instruction reads, so conditions are taken from an instruction's result and not only from
 * flags loaded by POPF.
 */
function flagSettingOp(b: CaseBuilder): void {
  const n = b.rng.below(8);
  const logic = n === 1 || n === 4 || n === 6;
  const size = b.rng.chance(0.25) ? 1 : b.vsize();
  modrmForm(b, size, [(n << 3) + (size === 1 ? 0 : 1)], { access: n === 7 ? "r" : "rw", undefinedFlags: logic ? AF : 0 });
}

const CONDITION_ROWS: Row[] = [
  row("ALU then SETcc Eb (flags from a result)", (b) => {
    flagSettingOp(b);
    const cc = b.rng.below(16);
    // A register destination: the ALU operation may have changed the registers an address uses.
    b.emit({ op: [0x0f, 0x90 + cc], ea: b.gpr(1), reg: 0, note: `SET${CC[cc]}` });
  }),
  row("SETcc Eb (0F 90+cc)", (b) => {
    const cc = b.rng.below(16);
    b.emit({ op: [0x0f, 0x90 + cc], ea: b.rm(1, { access: "w" }), reg: 0, note: `SET${CC[cc]}` });
  }),
  row("CMOVcc Gv,Ev (0F 40+cc)", (b) => {
    const cc = b.rng.below(16);
    const size = b.vsize();
    const e = b.rm(size, { access: "r" });
    const g = b.gpr(size);
    b.set(e, size, b.value(size));
    b.emit({ op: [0x0f, 0x40 + cc], size, ea: e, reg: g.reg, note: `CMOV${CC[cc]} ${regName(g.reg, size)}` });
  }),
];

// ---------------------------------------------------------------------------------------------
// Stack

/** The DATA offset ESP points at. */
const stackTop = (b: CaseBuilder): number => b.esp - DATA_BASE;

function stackRows(): Row[] {
  const pushSreg = (sreg: number, op: readonly number[]): Row =>
    row(`PUSH ${SREG_NAMES[sreg]} (${op.map(h2).join(" ")})`, (b) => {
      // A 32-bit push writes 16 or 32 bits (SDM: either); a zeroed slot reads the same after both.
      b.write(stackTop(b) - 4, 4, 0);
      b.emit({ op, size: b.vsize() });
    });
  return [
    row("PUSH Zv (50+r)", (b) => {
      const size = b.vsize();
      const r = b.gpr(size);
      b.set(r, size, b.value(size));
      b.emit({ op: [0x50 + r.reg], size, note: regName(r.reg, size) });
    }),
    row("POP Zv (58+r)", (b) => {
      const size = b.vsize();
      const r = b.rng.below(8);
      b.emit({ op: [0x58 + r], size, note: regName(r, size) });
    }),
    row("PUSH Ib (6A)", (b) => b.emit({ op: [0x6a], size: b.vsize(), imm: [b.value(1)] })),
    row("PUSH Iz (68)", (b) => {
      const size = b.vsize();
      b.emit({ op: [0x68], size, imm: le(b.value(size), size) });
    }),
    row("PUSH Ev (FF /6)", (b) => void groupUnary(b, b.vsize(), 0xff, 6, { access: "r" })),
    // The address of a memory destination is computed after ESP is incremented (SDM POP).
    row("POP Ev (8F /0)", (b) => {
      const size = b.vsize();
      b.emit({ op: [0x8f], size, ea: b.rm(size, { access: "w", lo: 8, hi: DATA_SIZE - 8 }), reg: 0 });
    }),
    row("PUSHA/PUSHAD (60)", (b) => b.emit({ op: [0x60], size: b.vsize() })),
    row("POPA/POPAD (61)", (b) => b.emit({ op: [0x61], size: b.vsize() })),
    row("PUSHF/PUSHFD (9C)", (b) => b.emit({ op: [0x9c], size: b.vsize() })),
    // Only the arithmetic flags and DF vary: TF would trap, IF/IOPL are privileged.
    row("POPF/POPFD (9D)", (b) => {
      const size = b.vsize();
      b.write(stackTop(b), size, (b.rng.u32() & EFLAGS_INPUT) | EFLAGS_FIXED);
      b.emit({ op: [0x9d], size });
    }),
    pushSreg(ES, [0x06]),
    pushSreg(CS, [0x0e]),
    pushSreg(SS, [0x16]),
    pushSreg(DS, [0x1e]),
    pushSreg(FS, [0x0f, 0xa0]),
    pushSreg(GS, [0x0f, 0xa8]),
    row("ENTER Iw,Ib (C8)", (b) => {
      b.reserve(EBP, DATA_BASE + b.rng.int(0x200, 0x700));
      // CPUs may probe the new stack bottom (ESP - frame): keep it inside the DATA area.
      const frame = b.rng.chance(0.8) ? b.rng.int(0, 64) : b.rng.below(0x600);
      const level = b.rng.chance(0.8) ? b.rng.int(0, 4) : b.rng.below(256);
      b.emit({ op: [0xc8], size: b.vsize(), imm: [...le(frame, 2), level] });
    }),
    row("LEAVE (C9)", (b) => {
      b.reserve(EBP, DATA_BASE + b.rng.int(0x100, 0xf00));
      b.emit({ op: [0xc9], size: b.vsize() });
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Control transfer: every jump goes forward inside the case (over a marker that shows whether
// it was taken) or, for LOOP, back over a short body with a small count.

/** Where CALL and indirect JMP rows land: past the call, the jump after it and some padding. */
const TARGET = 24;

function jumpRows(): Row[] {
  const skip = (b: CaseBuilder): number => (b.rng.chance(0.9) ? b.markerLength : 0);
  const overMarker = (name: string, emit: (b: CaseBuilder, rel: number) => void): Row =>
    row(name, (b) => {
      emit(b, skip(b));
      b.marker();
    });
  return [
    overMarker("Jcc Jb (70+cc)", (b, rel) => {
      const cc = b.rng.below(16);
      b.emit({ op: [0x70 + cc], imm: [rel], note: `J${CC[cc]}` });
    }),
    overMarker("ALU then Jcc Jb (flags from a result)", (b, rel) => {
      flagSettingOp(b);
      const cc = b.rng.below(16);
      b.emit({ op: [0x70 + cc], imm: [rel], note: `J${CC[cc]}` });
    }),
    overMarker("Jcc Jz (0F 80+cc)", (b, rel) => {
      const cc = b.rng.below(16);
      b.emit({ op: [0x0f, 0x80 + cc], imm: le(rel, b.defaultSize), note: `J${CC[cc]}` });
    }),
    overMarker("JMP Jb (EB)", (b, rel) => b.emit({ op: [0xeb], imm: [rel] })),
    overMarker("JMP Jz (E9)", (b, rel) => b.emit({ op: [0xe9], imm: le(rel, b.defaultSize) })),
    ...([["LOOPNE Jb (E0)", 0xe0], ["LOOPE Jb (E1)", 0xe1], ["LOOP Jb (E2)", 0xe2], ["JECXZ Jb (E3)", 0xe3]] as const).map(([name, op]) =>
      row(name, (b) => {
        const a16 = b.rng.chance(b.code16 ? 0.7 : 0.3);
        const prefixes = b.addrPrefix(a16);
        const high = a16 ? b.rng.u32() & 0xffff0000 : 0;
        if (op !== 0xe3 && b.rng.chance(0.5)) {
          // Back over `add eax, imm8` (which sets ZF for LOOPE/LOOPNE) at most 8 times.
          b.reserve(ECX, high | b.rng.int(1, 8));
          b.emit({ op: [0x83], ea: b.gpr(4, true), reg: 0, imm: [b.value(1)], scaffold: true });
          b.emit({ op: [op], prefixes, imm: [(-(3 + 2 + prefixes.length)) & 0xff] });
          return;
        }
        b.reserve(ECX, high | b.rng.pick([0, 1, 2, 0x10000, 0x10001, b.rng.u32()]));
        b.emit({ op: [op], prefixes, imm: [skip(b)] });
        b.marker();
      })),
  ];
}

/**
 * A call to TARGET followed by a jump past the return: `call; jmp end; hlt...; ret [imm16]; end:`.
 * The return address pushed into the DATA area is the same on both machines.
 */
function callAndReturn(b: CaseBuilder, call: (b: CaseBuilder) => void, ret: "C3" | "C2", retIsSubject: boolean): void {
  call(b);
  const end = TARGET + (ret === "C3" ? 1 : 3);
  b.emit({ op: [0xeb], imm: [end - (b.here + 2)], scaffold: true });
  b.pad(TARGET);
  b.emit({ op: [ret === "C3" ? 0xc3 : 0xc2], imm: ret === "C3" ? [] : le(b.rng.int(0, 64), 2), scaffold: !retIsSubject });
}

/** An indirect target of the mode's operand size: a free register or DATA holding TARGET's EIP. */
function indirectTarget(b: CaseBuilder): Ea {
  const size = b.defaultSize;
  const e = b.rng.chance(0.5) ? b.gpr(size, true) : b.mem(size, { access: "r" });
  b.set(e, size, b.codeAddress(TARGET));
  return e;
}

function callRows(): Row[] {
  // rel16 in 16-bit code, rel32 in 32-bit code.
  const rel = (b: CaseBuilder): number[] => le(TARGET - 1 - b.defaultSize, b.defaultSize);
  const direct = (b: CaseBuilder): void => b.emit({ op: [0xe8], imm: rel(b) });
  const directScaffold = (b: CaseBuilder): void => b.emit({ op: [0xe8], imm: rel(b), scaffold: true });
  const anyRet = (b: CaseBuilder): "C3" | "C2" => (b.rng.chance(0.5) ? "C3" : "C2");
  return [
    row("CALL Jz (E8)", (b) => callAndReturn(b, direct, anyRet(b), false)),
    row("CALL Ev (FF /2)", (b) => callAndReturn(b, (b) => b.emit({ op: [0xff], ea: indirectTarget(b), reg: 2 }), anyRet(b), false)),
    row("RET (C3)", (b) => callAndReturn(b, directScaffold, "C3", true)),
    row("RET Iw (C2)", (b) => callAndReturn(b, directScaffold, "C2", true)),
    row("JMP Ev (FF /4)", (b) => {
      b.emit({ op: [0xff], ea: indirectTarget(b), reg: 4 });
      b.pad(TARGET);
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// String instructions: eSI/eDI in the DATA area with room for the count in either direction.

interface StringOp { mn: string; op: number; operands: [string, string]; src: boolean; dst: boolean; reps: readonly ("REP" | "REPE" | "REPNE")[] }

const STRING_OPS: readonly StringOp[] = [
  { mn: "MOVS", op: 0xa4, operands: ["Yb,Xb", "Yv,Xv"], src: true, dst: true, reps: ["REP"] },
  { mn: "CMPS", op: 0xa6, operands: ["Xb,Yb", "Xv,Yv"], src: true, dst: true, reps: ["REPE", "REPNE"] },
  { mn: "STOS", op: 0xaa, operands: ["Yb,AL", "Yv,eAX"], src: false, dst: true, reps: ["REP"] },
  { mn: "LODS", op: 0xac, operands: ["AL,Xb", "eAX,Xv"], src: true, dst: false, reps: ["REP"] },
  { mn: "SCAS", op: 0xae, operands: ["AL,Yb", "eAX,Yv"], src: false, dst: true, reps: ["REPE", "REPNE"] },
];
const WINDOW = 80;

function stringCase(b: CaseBuilder, s: StringOp, wide: boolean, rep: "REP" | "REPE" | "REPNE" | undefined): void {
  const { rng } = b;
  const size = wide ? b.vsize() : 1;
  const a16 = b.seg16 && rng.chance(0.5);
  const high = (): number => (a16 ? rng.u32() & 0xffff0000 : 0);
  const count = rng.pick([0, 1, 2, 3, rng.int(0, 16)]);
  b.reserve(ECX, rep ? high() | count : rng.u32());
  const srcO = rng.int(WINDOW, DATA_SIZE - WINDOW);
  const dstO = rng.int(WINDOW, DATA_SIZE - WINDOW);
  const seg0 = s.src ? b.override("r", a16) : undefined;
  b.reserve(ESI, high() | b.offsetIn(seg0 ?? DS, srcO));
  b.reserve(EDI, high() | b.offsetIn(ES, dstO));
  b.setReg(EAX, size, b.value(size));
  if (s.src && s.dst && rng.chance(0.7)) {
    // CMPS: equal runs end at a changed byte, if any.
    b.data.copyWithin(dstO - WINDOW, srcO - WINDOW, srcO + WINDOW);
    if (rng.chance(0.7)) b.data[dstO + rng.int(-WINDOW, WINDOW - 1)] ^= 1 << rng.below(8);
  } else if (!s.src && s.dst && rng.chance(0.6)) {
    // SCAS: a run of the accumulator's value with one element changed, or one match among others.
    const acc = b.reg(EAX, size);
    const fill = rng.chance(0.5);
    for (let at = dstO - WINDOW; at + size <= dstO + WINDOW; at += size) if (fill) b.write(at, size, acc);
    b.write(dstO + size * rng.int(-8, 8), size, fill ? acc ^ 1 : acc);
  }
  const prefixes = [...(rep === undefined ? [] : [rep === "REPNE" ? 0xf2 : 0xf3]), ...b.addrPrefix(a16), ...(seg0 === undefined ? [] : [SEG_PREFIX[seg0]])];
  b.emit({ op: [s.op + (wide ? 1 : 0)], size: wide ? size : undefined, prefixes, note: `DF=${(b.eflags >> 10) & 1} count ${count}` });
}

function stringRows(): Row[] {
  return STRING_OPS.flatMap((s) =>
    ([false, true] as const).flatMap((wide) =>
      [undefined, ...s.reps].map((rep) =>
        row(`${rep ? `${rep} ` : ""}${s.mn} ${s.operands[wide ? 1 : 0]} (${rep ? (rep === "REPNE" ? "F2 " : "F3 ") : ""}${h2(s.op + (wide ? 1 : 0))})`, (b) => stringCase(b, s, wide, rep)))),
  );
}

// ---------------------------------------------------------------------------------------------
// Flags, BCD, and the rest

function miscRows(): Row[] {
  const plain = (name: string, op: readonly number[], undefinedFlags = 0, setup?: (b: CaseBuilder) => void): Row =>
    row(name, (b) => {
      setup?.(b);
      b.emit({ op });
      b.undefinedFlags |= undefinedFlags;
    });
  const ax = (b: CaseBuilder): void => b.setReg(EAX, 2, b.value(2));
  const asciiAdjust = (name: string, op: number, faults: readonly number[] = []): Row =>
    row(name, (b) => {
      ax(b);
      b.emit({ op: [op], imm: [b.rng.chance(0.6) ? 10 : b.value(1)] });
      b.undefinedFlags |= OF | AF | CF;
    }, faults);
  return [
    plain("CLC (F8)", [0xf8]),
    plain("STC (F9)", [0xf9]),
    plain("CMC (F5)", [0xf5]),
    plain("CLD (FC)", [0xfc]),
    plain("STD (FD)", [0xfd]),
    plain("LAHF (9F)", [0x9f]),
    plain("SAHF (9E)", [0x9e], 0, (b) => b.setReg(4 /* AH */, 1, b.value(1))),
    plain("DAA (27)", [0x27], OF, ax),
    plain("DAS (2F)", [0x2f], OF, ax),
    plain("AAA (37)", [0x37], OF | SF | ZF | PF, ax),
    plain("AAS (3F)", [0x3f], OF | SF | ZF | PF, ax),
    asciiAdjust("AAM Ib (D4)", 0xd4, [VECTOR.DE]),
    asciiAdjust("AAD Ib (D5)", 0xd5),
    row("NOP (90)", (b) => b.emit({ op: [0x90], size: b.rng.chance(0.2) ? 2 : undefined })),
    row("PAUSE (F3 90)", (b) => b.emit({ op: [0x90], prefixes: [0xf3] })),
    row("NOP Ev (0F 1F /0)", (b) => {
      const size = b.vsize();
      b.emit({ op: [0x0f, 0x1f], size, ea: b.rm(size, { access: "none" }), reg: 0 });
    }),
    row("BOUND Gv,Ma (62)", (b) => {
      const size = b.vsize();
      const e = b.mem(size, { access: "r", span: 2 * size });
      const [lower, upper] = [b.value(size), b.value(size)].map((v) => signedOf(v, size)).sort((x, y) => x - y);
      b.write(e.offset, size, b.rng.chance(0.8) ? lower : upper);
      b.write(e.offset + size, size, b.rng.chance(0.8) ? upper : lower);
      const g = b.gpr(size, true);
      b.set(g, size, b.rng.chance(0.6) ? b.rng.int(lower, upper) : b.value(size));
      b.emit({ op: [0x62], size, ea: e, reg: g.reg, note: regName(g.reg, size) });
    }, [VECTOR.BR]),
    row("ARPL Ew,Gw (63)", (b) => {
      const e = b.rm(2, { access: "rw" });
      const g = b.gpr(2);
      b.set(e, 2, b.value(2));
      b.set(g, 2, b.value(2));
      b.emit({ op: [0x63], ea: e, reg: g.reg, note: regName(g.reg, 2) });
    }),
  ];
}

/** Encodings that must raise #UD. */
function invalidRows(): Row[] {
  const ud = { faults: [VECTOR.UD] };
  return [
    row("UD2 (0F 0B)", (b) => b.emit({ op: [0x0f, 0x0b] }), ud.faults),
    row("UD0 (0F FF)", (b) => b.emit({ op: [0x0f, 0xff] }), ud.faults),
    row("UD1 Gv,Ev (0F B9)", (b) => b.emit({ op: [0x0f, 0xb9], ea: b.rm(4, { access: "none" }), reg: b.rng.below(8) }), ud.faults),
    row("LOCK on a register or non-RMW form (#UD)", (b) => {
      const forms: (() => void)[] = [
        () => b.emit({ op: [0x01], ea: b.gpr(4), reg: b.rng.below(8), lock: true }),
        () => b.emit({ op: [0x90], lock: true }),
        () => b.emit({ op: [0x8b], ea: b.mem(4, { access: "r" }), reg: b.rng.below(8), lock: true }),
        () => b.emit({ op: [0x0f, 0xa3], ea: b.mem(4, { access: "r" }), reg: b.gpr(4).reg, lock: true }),
      ];
      b.rng.pick(forms)();
    }, ud.faults),
    row("register operand where memory is required (#UD)", (b) => {
      const forms: (() => void)[] = [
        () => b.emit({ op: [0x8d], ea: b.gpr(4), reg: b.rng.below(8) }),
        () => b.emit({ op: [0x0f, 0xc7], ea: b.gpr(4), reg: 1 }),
        () => b.emit({ op: [0x62], ea: b.gpr(4), reg: b.rng.below(8) }),
      ];
      b.rng.pick(forms)();
    }, ud.faults),
    row("MOV Ev,Sw with Sreg 6-7 (#UD)", (b) => b.emit({ op: [0x8c], ea: b.rm(2, { access: "w" }), reg: b.rng.int(6, 7) }), ud.faults),
  ];
}

/** Every row, in opcode-map order of families. */
export const ROWS: readonly Row[] = [
  ...aluRows(), ...incDecRows(), ...testRows(), ...notNegRows(), ...mulRows(), ...divRows(), ...shiftRows(),
  ...doubleShiftRows(), ...bitRows(), ...bitScanRows(), ...movRows(), ...exchangeRows(), ...CONDITION_ROWS,
  ...stackRows(), ...jumpRows(), ...callRows(), ...stringRows(), ...miscRows(), ...invalidRows(),
];

/**
 * Rows that never run in 16-bit code, each with the reason: the one place to list them. Every
 * other row runs CODE16_SHARE of its cases in 16-bit code (CS.D = 0).
 */
export const CODE32_ONLY: ReadonlyMap<string, string> = new Map<string, string>([]);

/** Rows whose name matches `pattern` (a case-insensitive regular expression), or all rows. */
export function selectRows(pattern?: string): readonly Row[] {
  if (!pattern) return ROWS;
  const re = new RegExp(pattern, "i");
  return ROWS.filter((r) => re.test(r.name));
}


/** Case `index` of a run seeded with `seed`, drawn from `row`: the same inputs give the same case. */
export function generateCase(row: Row, seed: number, index: number): GeneratedCase {
  const b = new CaseBuilder(new Rng(caseSeed(seed, index)), !CODE32_ONLY.has(row.name));
  row.generate(b);
  return b.finish(row.name);
}
