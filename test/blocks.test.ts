// The core's decoded blocks against its interpreter: random runs of the instructions blocks
// decode (ALU, MOV, LEA, shifts, IMUL, MOVZX/MOVSX, CMOVcc, SETcc, PUSH/POP, CALL/RET, Jcc, x87, in
// 8-, 16- and 32-bit forms, in 16- and 32-bit code) with memory operands that sometimes fault
// (past DS's limit) or reach unmapped memory (an I/O exit), stores that rewrite instructions
// ahead of them, and small instruction budgets. Every case runs once interpreted and once
// through blocks; registers, EFLAGS, memory, device accesses, the instruction count and the exit
// must be the same. The host-CPU comparison is test/diff.test.ts; this one reaches what its
// one-instruction cases cannot: faults and self-modified code in the middle of a block.
//
//   BLOCKS_SEED=n   reproduce a run (the seed is printed)
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { Rng } from "./diff/builder";
import { gpa, ramOffset } from "../workers/addresses";
import type { VcpuExit } from "../workers/exits";
import { flatProtectedMode, REG } from "../workers/registers";
import { CoreHost } from "./fixtures/core-host";
import { envInt } from "./native/env";

const SEED = envInt("BLOCKS_SEED", randomInt(2 ** 32)) >>> 0;
const CASES = 3000;
/** Instructions a program may run (a stray jump may loop). */
const LIMIT = 100_000;
const CODE = 0x1000;
/** ESI points here and is never written: memory operands are ESI + displacement. */
const DATA = 0x2000;
/** DS's limit: displacements reach past it now and then (#GP). RAM ends at 0x5000, then nothing. */
const DS_LIMIT = 0x5fff;
const RAM = 0x5000;
const STACK = 0x3800;
const ESI = 6, ESP = 4;
const HLT = 0xf4;

/** One generated program, and the bytes of each instruction for the listing on a mismatch. */
interface Program { code: number[]; listing: string[]; code16: boolean }

class Gen {
  readonly code: number[] = [];
  readonly listing: string[] = [];
  constructor(readonly rng: Rng, readonly code16: boolean) {}

  /** A destination register: anything but ESI (the data pointer) and ESP. */
  dst(): number {
    return this.rng.pick([0, 1, 2, 3, 5, 7]);
  }

  /** Operand size: 1, 2 or 4, with the 0x66 prefix it needs in this code. */
  size(byteToo = true): [number, number[]] {
    const size = byteToo ? this.rng.pick([1, 2, 4, 4, 4]) : this.rng.pick([2, 4, 4]);
    return [size, size === (this.code16 ? 4 : 2) ? [0x66] : []];
  }

  /** ModRM and displacement of [ESI + disp] (or [SI + disp] in 16-bit code) with `reg`. */
  mem(reg: number): number[] {
    const disp = this.rng.chance(0.04) ? this.rng.int(0x3000, 0x5000) : this.rng.chance(0.2) ? this.rng.int(0x2000, 0x2ff8) : this.rng.int(0, 0x100);
    const rm = this.code16 ? 4 : 6;
    return [0x80 | (reg << 3) | rm, ...le(disp, this.code16 ? 2 : 4)];
  }

  emit(bytes: number[]): void {
    this.listing.push(bytes.map((b) => b.toString(16).padStart(2, "0")).join(" "));
    this.code.push(...bytes);
  }

  /** One random instruction of a kind blocks decode (or, now and then, one they hand on). */
  instruction(jumps = true): void {
    const r = this.rng;
    const [size, p] = this.size();
    const w = size === 1 ? 0 : 1;
    const imm = (n: number): number[] => le(r.u32(), n);
    switch (r.below(jumps ? 23 : 21)) {
      case 0: return this.emit([...p, (r.below(8) << 3) | w, 0xc0 | (r.below(8) << 3) | this.dst()]); // ALU r,r
      case 1: return this.emit([...p, (r.below(8) << 3) | 2 | w, ...this.mem(this.dst())]); // ALU r,m
      case 2: return this.emit([...p, (r.below(8) << 3) | w, ...this.mem(r.below(8))]); // ALU m,r
      case 3: return this.emit([...p, w ? 0x83 : 0x80, 0xc0 | (r.below(8) << 3) | this.dst(), r.below(256)]); // ALU r,ib
      case 4: return this.emit([...p, w ? 0x81 : 0x80, ...this.mem(r.below(8)), ...imm(size)]); // ALU m,i
      case 5: return this.emit([...p, 0x88 | w | (r.chance(0.5) ? 2 : 0), ...this.mem(this.dst())]); // MOV r<->m
      case 6: return this.emit([...p, 0x88 | w, 0xc0 | (r.below(8) << 3) | this.dst()]); // MOV r,r
      case 7: return size === 1 ? this.emit([0xb0 | this.dst(), r.below(256)]) : this.emit([...p, 0xb8 | this.dst(), ...imm(size)]);
      case 8: return this.emit([...p, 0xc6 | w, ...this.mem(0), ...imm(size)]); // MOV m,i
      case 9: return this.emit([...this.size(false)[1], 0x8d, ...this.mem(this.dst())]); // LEA
      case 10: return this.emit([...p, w ? 0xff : 0xfe, 0xc0 | (r.below(2) << 3) | this.dst()]); // INC/DEC
      case 11: { // TEST r,i / NOT / NEG
        const op = r.int(0, 3);
        return this.emit([...p, w ? 0xf7 : 0xf6, 0xc0 | (op << 3) | this.dst(), ...(op < 2 ? imm(size) : [])]);
      }
      case 12: { // shifts and rotates by imm8, 1 or CL
        const op = r.pick([0xc0, 0xd0, 0xd2]);
        return this.emit([...p, op | w, 0xc0 | (r.below(8) << 3) | this.dst(), ...(op === 0xc0 ? [r.below(40)] : [])]);
      }
      case 13: { const [, q] = this.size(false); return this.emit([...q, 0x0f, 0xaf, 0xc0 | (this.dst() << 3) | r.below(8)]); } // IMUL r,r
      case 14: { const [, q] = this.size(false); return this.emit([...q, 0x6b, 0xc0 | (this.dst() << 3) | r.below(8), r.below(256)]); } // IMUL r,r,ib
      case 15: { // MOVZX/MOVSX from a register or memory
        const [, q] = this.size(false);
        return this.emit([...q, 0x0f, r.pick([0xb6, 0xb7, 0xbe, 0xbf]), ...(r.chance(0.5) ? [0xc0 | (this.dst() << 3) | r.below(8)] : this.mem(this.dst()))]);
      }
      case 16: { const [, q] = this.size(false); return this.emit([...q, 0x0f, 0x40 | r.below(16), ...this.mem(this.dst())]); } // CMOVcc r,m
      case 17: return this.emit([0x0f, 0x90 | r.below(16), 0xc0 | this.dst()]); // SETcc
      case 18: { const [, q] = this.size(false); return this.emit(r.chance(0.5) ? [...q, 0x50 | r.below(8)] : [...q, 0x58 | this.dst()]); } // PUSH/POP
      case 19: return this.emit([r.pick([0x98, 0x99, 0x90])]);
      case 20: { // x87: FLD/FST/FADD/FSTP on memory, FLD1, FADDP, FCHS
        const form = r.below(7);
        if (form >= 4) return this.emit([[0xd9, 0xe8], [0xde, 0xc1], [0xd9, 0xe0]][form - 4]);
        return this.emit([[0xd9, 0xd9, 0xd8, 0xdd][form], ...this.mem([0, 2, 0, 3][form])]);
      }
      case 21: return this.jump();
      default: return this.emit(r.pick([[0xf5], [0xf8], [0xf9], [0x0f, 0xa3, 0xc0 | r.below(64)]])); // CMC CLC STC BT: interpreted
    }
  }

  /** Jcc or JMP over the next instruction, CALL to the next (popped), or PUSH target; RET. */
  jump(): void {
    const r = this.rng;
    const kind = r.below(3);
    if (kind === 2) {
      const at = CODE + this.code.length + (this.code16 ? 3 : 5) + 1;
      this.emit([0x68, ...le(at, this.code16 ? 2 : 4)]);
      this.emit([0xc3]);
      return;
    }
    if (kind === 1) {
      this.emit(this.code16 ? [0xe8, 0, 0] : [0xe8, 0, 0, 0, 0]);
      this.emit([0x58 | this.dst()]);
      return;
    }
    const skipped = new Gen(r, this.code16);
    skipped.instruction(false);
    const n = skipped.code.length;
    this.emit(r.chance(0.5) ? [0x70 | r.below(16), n] : r.chance(0.5) ? [0xeb, n] : [0x0f, 0x80 | r.below(16), ...le(n, this.code16 ? 2 : 4)]);
    this.emit(skipped.code);
  }

  /** A store into the immediate of a MOV r,imm that comes later in the program. */
  selfModify(): void {
    const here = this.code.length;
    const storeLength = this.code16 ? 5 : 7;
    const movAt = here + storeLength;
    const target = CODE + movAt + (this.code16 ? 2 : 1);
    const disp = (target - DATA) >>> 0;
    this.emit([0xc6, this.code16 ? 0x84 : 0x86, ...le(disp, this.code16 ? 2 : 4), this.rng.below(256)]);
    this.emit(this.code16 ? [0x66, 0xb8 | this.dst(), ...le(this.rng.u32(), 4)] : [0xb8 | this.dst(), ...le(this.rng.u32(), 4)]);
  }
}

function le(value: number, bytes: number): number[] {
  return Array.from({ length: bytes }, (_, i) => (value >>> (8 * i)) & 0xff);
}

function generate(seed: number, index: number): Program {
  const rng = new Rng((Math.imul(seed ^ 0x27d4eb2d, 0x9e3779b1) + index) >>> 0);
  const gen = new Gen(rng, rng.chance(0.25));
  gen.emit([0xdb, 0xe3]); // FNINIT: both runs start with the same FPU
  const count = rng.int(1, 40);
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.05)) gen.selfModify();
    else gen.instruction();
  }
  gen.emit([HLT]);
  return { code: gen.code, listing: gen.listing, code16: gen.code16 };
}

interface Outcome { exit: VcpuExit | undefined; state: bigint[]; ram: number[]; io: string[] }

const host = new CoreHost(1 << 20);
host.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: RAM, ramOffset: ramOffset(0) }]);
/** Compiles every block after its first run (between run() calls): a case run twice runs compiled the second time. */
const jitHost = new CoreHost(1 << 20, { jitThreshold: 1 });
jitHost.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: RAM, ramOffset: ramOffset(0) }]);
const TAGS = [REG.rax, REG.rcx, REG.rdx, REG.rbx, REG.rsp, REG.rbp, REG.rsi, REG.rdi, REG.rip, REG.rflags, REG.instructions];

/**
 * Runs `p` from a state derived from `index`; with `budget`, in slices of that many instructions;
 * `compiled`: on the JIT's host, twice to compile its blocks (the first run interprets the
 * instruction that brings the code page into the TLB, so its blocks start one instruction late),
 * then again for the outcome.
 */
function runCase(p: Program, index: number, interpretOnly: boolean, budget?: number, compiled = false): Outcome {
  if (compiled) for (let warm = 0; warm < 2; warm++) runOn(jitHost, p, index, false, budget);
  return runOn(compiled ? jitHost : host, p, index, interpretOnly, budget);
}

function runOn(machine: CoreHost, p: Program, index: number, interpretOnly: boolean, budget?: number): Outcome {
  const rng = new Rng(index);
  machine.ram.fill(0, 0, RAM);
  machine.ram.fill(HLT, CODE, CODE + 0x1000);
  machine.forgetCodeDrops();
  machine.ram.set(p.code, CODE);
  for (let i = DATA; i < RAM; i++) machine.ram[i] = (i * 131 + index) & 0xff;
  const regs = Array.from({ length: 8 }, () => rng.u32());
  regs[ESI] = DATA;
  regs[ESP] = STACK;
  machine.setState([
    ...flatProtectedMode(CODE),
    ...(p.code16 ? [{ tag: REG["cs.attrs"], value: 0x9b }, { tag: REG["cs.limit"], value: 0xffff }] : []),
    { tag: REG["ds.limit"], value: DS_LIMIT },
    { tag: REG.exception_exits, value: 0xffffffff },
    { tag: REG.interpret_only, value: interpretOnly ? 1 : 0 },
    ...regs.map((value, r) => ({ tag: TAGS[r], value })),
    { tag: REG.rflags, value: 2 | (rng.u32() & 0x8d5) },
  ]);
  const before = machine.getState([REG.instructions])[0].value;
  const io: string[] = [];
  let exit: VcpuExit | undefined;
  for (let ran = 0; ran < LIMIT; ran += budget ?? LIMIT) {
    exit = machine.run(budget ?? LIMIT);
    io.push(...machine.io.map((a) => JSON.stringify(a, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))));
    if (exit !== undefined) break;
  }
  const state = machine.getState(TAGS).map((e) => e.value);
  state[TAGS.length - 1] -= before;
  return { exit, state, ram: [...machine.ram.subarray(0, RAM)], io };
}

test(`decoded blocks match the interpreter (${CASES} programs, BLOCKS_SEED=${SEED})`, (t) => {
  t.diagnostic(`seed ${SEED} (BLOCKS_SEED=${SEED} reproduces)`);
  let faults = 0;
  for (let index = 0; index < CASES; index++) {
    const p = generate(SEED, index);
    const reference = runCase(p, index, true);
    if (reference.exit?.reason === "exception") faults++;
    const budget = index % 3 === 0 ? 1 + (index % 17) : undefined;
    for (const compiled of [false, true]) {
      const mine = runCase(p, index, false, budget, compiled);
      const where = `program ${index}${p.code16 ? " (16-bit code)" : ""}${budget ? `, budget ${budget}` : ""}${compiled ? ", compiled" : ""}:\n  ${p.listing.join("\n  ")}`;
      assert.deepEqual(mine.exit, reference.exit, `exit, ${where}`);
      assert.deepEqual(mine.state, reference.state, `registers (GPRs, EIP, EFLAGS, instructions), ${where}`);
      assert.deepEqual(mine.io, reference.io, `device accesses, ${where}`);
      const differs = mine.ram.findIndex((b, i) => b !== reference.ram[i]);
      assert.equal(differs, -1, `RAM at ${differs.toString(16)}, ${where}`);
    }
  }
  t.diagnostic(`${faults} of ${CASES} programs ended in an exception`);
  assert.ok(faults > CASES / 20, "too few programs fault: the memory operands no longer reach past DS's limit");
});

test("a loop that writes its own code page, data and instructions, ends as interpreted", () => {
  const disp = (address: number): number[] => le(address - DATA, 4);
  const code = [
    0xb9, ...le(200, 4), // mov ecx, 200
    0x89, 0x8e, ...disp(CODE + 0x800), // loop: mov [CODE + 0x800], ecx (data beside the code)
    0x88, 0x8e, ...disp(CODE + 18), // mov [the next instruction's immediate], cl
    0xb8, 0x44, 0x33, 0x22, 0x11, // mov eax, 0x11223344 (its low byte rewritten)
    0x01, 0xc3, // add ebx, eax
    0x49, // dec ecx
    0x75, 0xea, // jnz loop
    HLT,
  ];
  const program: Program = { code, listing: [], code16: false };
  const reference = runCase(program, 1, true);
  assert.deepEqual(reference.exit, { reason: "hlt" });
  for (const [budget, compiled] of [[undefined, false], [7, false], [undefined, true], [7, true]] as const) {
    const mine = runCase(program, 1, false, budget, compiled);
    assert.deepEqual([mine.exit, mine.state, mine.io], [reference.exit, reference.state, reference.io], `budget ${budget}, compiled ${compiled}`);
    assert.deepEqual(mine.ram, reference.ram, `RAM, budget ${budget}, compiled ${compiled}`);
  }
});

test("a block is found through the current translation: a remapped page runs its new code", () => {
  const machine = new CoreHost(1 << 20);
  machine.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) }]);
  const ram = machine.ram;
  const PD = 0x8000, PT = 0x9000, MAIN = 0x3000;
  ram.fill(0, 0, 0x10000);
  ram.set(le(PT | 3, 4), PD);
  for (let page = 0; page < 16; page++) ram.set(le((page << 12) | 3, 4), PT + page * 4);
  ram.set([0xb8, ...le(1, 4), 0xc3], 0x1000); // mov eax, 1; ret
  ram.set([0xb8, ...le(2, 4), 0xc3], 0x5000); // mov eax, 2; ret
  const call = (at: number): number[] => [0xe8, ...le(0x1000 - (at + 5), 4)];
  const main = [
    0xb8, ...le(PD, 4), 0x0f, 0x22, 0xd8, // mov eax, PD; mov cr3, eax (no translation left from a run before)
  ];
  main.push(
    ...call(MAIN + main.length), // eax = 1 from the page at 0x1000
    0x89, 0xc3, // mov ebx, eax
    0xc7, 0x05, ...le(PT + 4, 4), ...le(0x5003, 4), // linear 0x1000 now maps physical 0x5000
    0x0f, 0x01, 0x3d, ...le(0x1000, 4), // invlpg [0x1000]
  );
  main.push(...call(MAIN + main.length), 0x01, 0xc3, HLT); // eax = 2; add ebx, eax
  for (const interpretOnly of [1, 0]) {
    ram.set(le(0x1003, 4), PT + 4);
    ram.set(main, MAIN);
    machine.setState([
      ...flatProtectedMode(MAIN),
      { tag: REG.cr0, value: 0x80000011 }, { tag: REG.cr3, value: PD },
      { tag: REG.rsp, value: 0x7000 }, { tag: REG.interpret_only, value: interpretOnly },
    ]);
    assert.deepEqual(machine.run(1000), { reason: "hlt" });
    assert.equal(machine.getState([REG.rbx])[0].value, 3n, `interpret_only ${interpretOnly}`);
  }
});

test("a compiled loop to its own block's start stops where the budget says, as interpreted", () => {
  const code = [
    0xb9, ...le(3000, 4), // mov ecx, 3000
    0x31, 0xc0, // xor eax, eax
    0x01, 0xc8, // loop: add eax, ecx
    0x69, 0xc0, ...le(0x9e3779b1, 4), // imul eax, eax, 0x9e3779b1
    0xc1, 0xc8, 0x05, // ror eax, 5
    0x89, 0x86, ...le(0x10, 4), // mov [esi + 0x10], eax
    0x49, // dec ecx
    0x75, 0x100 - 20, // jnz loop
    HLT,
  ];
  const program: Program = { code, listing: [], code16: false };
  const reference = runCase(program, 2, true);
  assert.deepEqual(reference.exit, { reason: "hlt" });
  assert.equal(reference.state[TAGS.length - 1], 2n + 3000n * 6n + 1n, "instructions: the loop ran 3000 rounds");
  for (const budget of [undefined, 7, 1000, 4099]) {
    const mine = runCase(program, 2, false, budget, true);
    assert.deepEqual([mine.exit, mine.state, mine.io], [reference.exit, reference.state, reference.io], `budget ${budget}`);
    assert.deepEqual(mine.ram, reference.ram, `RAM, budget ${budget}`);
  }
});
