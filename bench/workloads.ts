/**
 * The CPU bench's fixed workloads: small 32-bit guest programs (bench/asm.ts) run in flat
 * protected mode with paging off, each with a reference model in TypeScript that mirrors it step
 * by step and gives the registers, memory and instruction count the guest must end with. Plain
 * data and functions: bench/cpu.ts runs them in whichever environment.
 */
import { asm, assemble, EAX, EBP, EBX, ECX, EDI, EDX, ESI, label, type Program, type Reg } from "./asm";

/** The CPU figures, in the order they are reported. */
export const CPU_METRICS = ["mips_int", "mips_mem", "mips_branch", "mips_x87", "rep_movsd_mib_s"] as const;

/** One CPU figure's name. */
export type CpuMetric = (typeof CPU_METRICS)[number];

/** What one run of a workload must leave behind, besides stopping at its HLT. */
export interface GuestRun {
  program: Program;
  /** Writes the run's input data into guest RAM (before every run). */
  prepare?: (ram: Uint8Array) => void;
  /** General registers after HLT, by number (the others are not checked). */
  registers: Partial<Record<Reg, number>>;
  /**
   * Instructions retired, HLT included; omitted where the core's count is not architectural
   * (a REP string instruction counts once per chunk of iterations it runs between polls).
   */
  instructions?: number;
  /** Checks guest RAM after HLT; returns what is wrong, or undefined. */
  checkRam?: (ram: Uint8Array) => string | undefined;
  /** Guest bytes the run copies (the work of a MiB/s figure). */
  bytes?: number;
}

/** A workload: the program at one size for the timed runs, and a smaller one to warm up with. */
export interface Workload {
  metric: CpuMetric;
  unit: "MIPS" | "MiB/s";
  /** One line for people. */
  description: string;
  ramBytes: number;
  /** Needs the x87 FPU: reported as null while the core has none. */
  x87: boolean;
  /** The size parameter (iterations, passes, last start value) of a timed run and of the warm-up. */
  timedSize: number;
  warmupSize: number;
  build: (size: number) => GuestRun;
}

/** Where every program starts (paging is off: linear = physical = RAM offset). */
const CODE = 0x1000;
/** RAM of the workloads that keep to a few pages. */
const SMALL_RAM = 1 << 20;

// ---- mips_int: register ALU loop ----

const INT_SEED = { eax: 0x12345678, ebx: 0x9abcdef0, esi: 0x0f1e2d3c, edi: 1 };

/** `iterations` rounds of ADD XOR MOV SHL SUB IMUL INC XOR on registers, DEC+JNZ counting. */
function intLoop(iterations: number): GuestRun {
  const program = assemble(CODE, [
    asm.movImm(EAX, INT_SEED.eax),
    asm.movImm(EBX, INT_SEED.ebx),
    asm.movImm(ESI, INT_SEED.esi),
    asm.movImm(EDI, INT_SEED.edi),
    asm.movImm(ECX, iterations),
    label("loop"),
    asm.add(EAX, EBX), // a += b
    asm.xor(EBX, EAX), // b ^= a
    asm.mov(EDX, EBX), // t = b
    asm.shlImm(EDX, 5), // t <<= 5
    asm.sub(ESI, EDX), // s -= t
    asm.imul(EDI, ESI), // d *= s
    asm.inc(EDI), // d += 1
    asm.xor(EAX, EDI), // a ^= d
    asm.dec(ECX),
    asm.j("ne", "loop"),
    asm.hlt(),
  ]);
  let { eax: a, ebx: b, esi: s, edi: d } = INT_SEED;
  let t = 0;
  for (let i = 0; i < iterations; i++) {
    a = (a + b) >>> 0;
    b = (b ^ a) >>> 0;
    t = (b << 5) >>> 0;
    s = (s - t) >>> 0;
    d = (Math.imul(d, s) + 1) >>> 0;
    a = (a ^ d) >>> 0;
  }
  return {
    program,
    registers: { [EAX]: a, [EBX]: b, [ECX]: 0, [EDX]: t, [ESI]: s, [EDI]: d },
    instructions: 5 + 10 * iterations + 1,
  };
}

// ---- mips_mem and rep_movsd_mib_s: copying a buffer larger than the TLB's reach ----

/** 4 MiB of RAM; the TLB (256 entries of 4 KiB) reaches 1 MiB. */
const MEM_RAM = 4 << 20;
const COPY_BYTES = 3 << 19; // 1.5 MiB
const COPY_DWORDS = COPY_BYTES / 4;
const SRC = 0x80000;
/**
 * One page past the source's end: source and destination pages of the same index fall in
 * different slots of the direct-mapped TLB (a multiple of 1 MiB apart they would evict each
 * other on every access).
 */
const DST = SRC + COPY_BYTES + 0x1000;
/** Copies per timed run (about 100 M instructions for the loop) and per warm-up run. */
const COPY_PASSES = 42;
const COPY_WARMUP_PASSES = 4;

/** The source buffer: a fixed xorshift32 sequence. */
const SOURCE_DATA = (() => {
  const words = new Uint32Array(COPY_DWORDS);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
})();

/** What both copy variants share: input, output check, final registers. */
function copyRun(program: Program, passes: number, registers: GuestRun["registers"]): GuestRun {
  return {
    program,
    prepare: (ram) => {
      ram.set(SOURCE_DATA, SRC);
      ram.fill(0, DST, DST + COPY_BYTES);
    },
    registers: { ...registers, [ESI]: SRC + COPY_BYTES, [EDI]: DST + COPY_BYTES, [ECX]: 0, [EBX]: 0 },
    checkRam: (ram) => {
      const copy = ram.subarray(DST, DST + COPY_BYTES);
      const bad = copy.findIndex((byte, i) => byte !== SOURCE_DATA[i]);
      return bad < 0 ? undefined : `destination byte ${bad} is ${copy[bad]}, the source's is ${SOURCE_DATA[bad]}`;
    },
    bytes: passes * COPY_BYTES,
  };
}

/** The source copied to the destination `passes` times, a dword per six-instruction iteration. */
function copyLoop(passes: number): GuestRun {
  const program = assemble(CODE, [
    asm.movImm(EBX, passes),
    label("pass"),
    asm.movImm(ESI, SRC),
    asm.movImm(EDI, DST),
    asm.movImm(ECX, COPY_DWORDS),
    label("copy"),
    asm.load(EAX, { base: ESI }), // a dword from the source
    asm.mov({ base: EDI }, EAX), // to the destination
    asm.addImm(ESI, 4),
    asm.addImm(EDI, 4),
    asm.dec(ECX),
    asm.j("ne", "copy"),
    asm.dec(EBX), // next pass
    asm.j("ne", "pass"),
    asm.hlt(),
  ]);
  const lastDword = new DataView(SOURCE_DATA.buffer).getUint32(COPY_BYTES - 4, true);
  return { ...copyRun(program, passes, { [EAX]: lastDword }), instructions: 1 + passes * (3 + 6 * COPY_DWORDS + 2) + 1 };
}

/** The same copies by REP MOVSD. */
function copyRepMovsd(passes: number): GuestRun {
  const program = assemble(CODE, [
    asm.cld(),
    asm.movImm(EBX, passes),
    label("pass"),
    asm.movImm(ESI, SRC),
    asm.movImm(EDI, DST),
    asm.movImm(ECX, COPY_DWORDS),
    asm.repMovsd(), // ECX dwords from DS:ESI to ES:EDI
    asm.dec(EBX),
    asm.j("ne", "pass"),
    asm.hlt(),
  ]);
  return copyRun(program, passes, {});
}

// ---- mips_branch: Collatz sequences ----

/**
 * For every n in 1..last: follows x -> x/2 (even) or 3x+1 (odd) until x = 1 (at least one step),
 * with a data-dependent JZ on x's parity, CMP+CMOVA keeping the largest x, and TEST+SETNZ+MOVZX
 * counting the sequences of odd length. EDI sums the steps.
 */
function collatz(last: number): GuestRun {
  const program = assemble(CODE, [
    asm.movImm(ECX, 1),
    asm.movImm(EBX, last + 1),
    asm.xor(ESI, ESI),
    asm.xor(EDI, EDI),
    asm.xor(EBP, EBP),
    label("next"),
    asm.mov(EAX, ECX), // x = n
    asm.xor(EDX, EDX), // steps = 0
    label("step"),
    asm.inc(EDX), // steps += 1
    asm.test8Imm(EAX, 1), // x odd?
    asm.j("e", "even"),
    asm.lea(EAX, { base: EAX, index: EAX, scale: 2, disp: 1 }), // x = 3x + 1
    asm.cmp(EAX, ESI),
    asm.cmov("a", ESI, EAX), // max = x if x > max
    asm.jmp("step"),
    label("even"),
    asm.shrImm(EAX, 1), // x = x / 2
    asm.cmpImm(EAX, 1),
    asm.j("ne", "step"), // until x = 1
    asm.add(EDI, EDX), // total += steps
    asm.test8Imm(EDX, 1),
    asm.set("ne", EAX), // al = steps odd
    asm.movzx8(EAX, EAX),
    asm.add(EBP, EAX), // odd-length sequences += steps & 1
    asm.inc(ECX), // n += 1
    asm.cmp(ECX, EBX),
    asm.j("b", "next"),
    asm.hlt(),
  ]);
  let max = 0;
  let total = 0;
  let odd = 0;
  let instructions = 5;
  let steps = 0;
  for (let n = 1; n <= last; n++) {
    let x = n;
    steps = 0;
    instructions += 2;
    do {
      steps++;
      if (x % 2 === 1) {
        x = 3 * x + 1;
        if (x > 0xffffffff) throw new RangeError(`collatz(${last}): ${n} leaves 32 bits`);
        max = Math.max(max, x);
        instructions += 7;
      } else {
        x /= 2;
        instructions += 6;
      }
    } while (x !== 1);
    total = (total + steps) >>> 0;
    odd += steps & 1;
    instructions += 8;
  }
  return {
    program,
    registers: { [EAX]: steps & 1, [ECX]: last + 1, [EDX]: steps, [ESI]: max, [EDI]: total, [EBP]: odd },
    instructions: instructions + 1,
  };
}

// ---- mips_x87: FLD FADD FST FMUL FADD FSTP ----

const X87_DATA = 0x8000;

/**
 * k = k + 1; s = s + k * 0.75 on 64-bit reals in memory, `iterations` times. Every value is a
 * multiple of 0.25 below 2^51, so any precision control gives JavaScript's exact result.
 */
function x87Loop(iterations: number): GuestRun {
  const k = { base: ESI } as const;
  const one = { base: ESI, disp: 8 } as const;
  const h = { base: ESI, disp: 16 } as const;
  const s = { base: ESI, disp: 24 } as const;
  const program = assemble(CODE, [
    asm.fninit(),
    asm.movImm(ESI, X87_DATA),
    asm.movImm(ECX, iterations),
    label("loop"),
    asm.fld(k), // st0 = k
    asm.fadd(one), // st0 = k + 1
    asm.fst(k), // k = st0
    asm.fmul(h), // st0 = k * h
    asm.fadd(s), // st0 = s + k * h
    asm.fstp(s), // s = st0, pop
    asm.dec(ECX),
    asm.j("ne", "loop"),
    asm.hlt(),
  ]);
  let kValue = 0;
  let sValue = 0;
  for (let i = 0; i < iterations; i++) {
    kValue += 1;
    sValue += kValue * 0.75;
  }
  return {
    program,
    prepare: (ram) => {
      const view = new DataView(ram.buffer, ram.byteOffset + X87_DATA, 32);
      [0, 1, 0.75, 0].forEach((value, i) => view.setFloat64(i * 8, value, true));
    },
    registers: { [ECX]: 0, [ESI]: X87_DATA },
    instructions: 3 + 8 * iterations + 1,
    checkRam: (ram) => {
      const view = new DataView(ram.buffer, ram.byteOffset + X87_DATA, 32);
      const [k2, s2] = [view.getFloat64(0, true), view.getFloat64(24, true)];
      return k2 === kValue && s2 === sValue ? undefined : `k = ${k2}, s = ${s2}; expected k = ${kValue}, s = ${sValue}`;
    },
  };
}

/** The x87 probe: one x87 instruction, then HLT. */
export const x87Probe = (): Program => assemble(CODE, [asm.fld1(), asm.hlt()]);

/** One workload per CPU figure, in CPU_METRICS order. */
export const WORKLOADS: readonly Workload[] = [
  {
    metric: "mips_int", unit: "MIPS", ramBytes: SMALL_RAM, x87: false, timedSize: 10_000_000, warmupSize: 1_000_000, build: intLoop,
    description: "register ALU loop: add xor mov shl sub imul inc xor, dec+jnz",
  },
  {
    metric: "mips_mem", unit: "MIPS", ramBytes: MEM_RAM, x87: false, timedSize: COPY_PASSES, warmupSize: COPY_WARMUP_PASSES, build: copyLoop,
    description: `memcpy loop (mov eax,[esi]; mov [edi],eax; add esi,4; add edi,4; dec ecx; jnz), ${COPY_PASSES} copies of ${COPY_BYTES >> 10} KiB`,
  },
  {
    metric: "mips_branch", unit: "MIPS", ramBytes: SMALL_RAM, x87: false, timedSize: 140_000, warmupSize: 10_000, build: collatz,
    description: "Collatz sequences: data-dependent jz, cmp+cmova, test+setnz+movzx, inc/cmp/jb",
  },
  {
    // A quarter of the others' 100 M instructions: a soft-float x87 may well run several times
    // slower than integer code, and the whole bench is to stay within about four minutes.
    metric: "mips_x87", unit: "MIPS", ramBytes: SMALL_RAM, x87: true, timedSize: 3_125_000, warmupSize: 312_500, build: x87Loop,
    description: "x87 loop: fld fadd fst fmul fadd fstp on m64, dec+jnz",
  },
  {
    metric: "rep_movsd_mib_s", unit: "MiB/s", ramBytes: MEM_RAM, x87: false, timedSize: COPY_PASSES, warmupSize: COPY_WARMUP_PASSES, build: copyRepMovsd,
    description: `the same ${COPY_PASSES} copies by REP MOVSD (the core counts a REP instruction once per chunk it runs: no MIPS)`,
  },
];
