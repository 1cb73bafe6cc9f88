// The differential CPU test: generated cases run on the host CPU (test/diff/native) and in the
// core (build/core.wasm); registers, EIP, EFLAGS (minus what the SDM leaves undefined), the DATA
// area and the fault outcome must match. Every fourth case runs in the core's interpreter alone,
// the others through its decoded blocks. Rows listed in CORE_PENDING run on the host only, which
// still checks the generators and the runner; every other row is compared. A share of each row's
// cases (CODE16_SHARE; none for the rows in CODE32_ONLY) runs in 16-bit code (CS.D = 0).
//
//   DIFF_SEED=n      reproduce a run (the seed is printed; random by default)
//   DIFF_CASES=n     number of cases (default 20000; DIFF_FULL=1: 200000)
//   DIFF_ONLY=re     only rows whose name matches the regular expression, e.g. DIFF_ONLY=SHLD
//   DIFF_CORE=all    compare the CORE_PENDING rows with the core too
//   DIFF_COVERAGE=1  print the opcode-slot coverage report
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { setImmediate } from "node:timers/promises";
import { test } from "node:test";
import { DATA_BASE, DATA_SIZE, EFLAGS_ARITH, EFLAGS_DF, codeOrigin, type CaseEnd, type DiffCase, type MachineResult } from "./diff/case-format";
import { STACK_OFFSET, type GeneratedCase } from "./diff/builder";
import { compareResults, describeMismatch } from "./diff/compare";
import { CORE_PENDING } from "./diff/core-pending";
import { collectCoverage, formatCoverage } from "./diff/coverage";
import { CODE32_ONLY, ROWS, generateCase, selectRows, type Row } from "./diff/generators";
import { runNative } from "./diff/native";
import { CoreRunner } from "./diff/run-core";
import { envInt } from "./native/env";

const env = process.env;

const SEED = envInt("DIFF_SEED", randomInt(2 ** 32)) >>> 0;
const CASES = envInt("DIFF_CASES", env.DIFF_FULL === "1" ? 200_000 : 20_000);
const BATCH = 2_000;
const SHOWN = 10;

// ---- the native runner against results worked out by hand from the SDM ----

type Gpr = "eax" | "ecx" | "edx" | "ebx" | "esp" | "ebp" | "esi" | "edi";
const GPRS: readonly Gpr[] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const STACK = DATA_BASE + STACK_OFFSET;

interface HandCase {
  name: string;
  code: number[];
  regs?: Partial<Record<Gpr, number>>;
  eflags?: number;
  seg16?: boolean;
  /** Runs in 16-bit code; `expect.eip` is an offset in the code page either way. */
  code16?: boolean;
  /** Bytes placed in the DATA area before the case. */
  data?: [offset: number, bytes: number[]];
  expect: { end: CaseEnd["kind"]; vector?: number; eip: number; regs?: Partial<Record<Gpr, number>>; arith?: number; df?: boolean; data?: [offset: number, bytes: number[]] };
}

const HAND_CHECKED: readonly HandCase[] = [
  { name: "ADD EAX,EBX: 0x7fffffff + 1 sets OF SF AF PF", code: [0x01, 0xd8], regs: { eax: 0x7fffffff, ebx: 1 }, expect: { end: "done", eip: 2, regs: { eax: 0x80000000 }, arith: 0x800 | 0x80 | 0x10 | 0x4 } },
  { name: "SUB EAX,EAX sets ZF PF and clears CF", code: [0x29, 0xc0], regs: { eax: 5 }, eflags: 1, expect: { end: "done", eip: 2, regs: { eax: 0 }, arith: 0x40 | 0x4 } },
  { name: "ADC AL,0xFF with CF=1 carries out with AF", code: [0x14, 0xff], regs: { eax: 0x1201 }, eflags: 1, expect: { end: "done", eip: 2, regs: { eax: 0x1201 }, arith: 0x1 | 0x10 } },
  { name: "MUL EBX: 0xffffffff * 2 fills EDX:EAX and sets CF OF", code: [0xf7, 0xe3], regs: { eax: 0xffffffff, ebx: 2 }, expect: { end: "done", eip: 2, regs: { eax: 0xfffffffe, edx: 1 } } },
  { name: "DIV ECX by zero: #DE at the instruction, registers untouched", code: [0xf7, 0xf1], regs: { eax: 7, edx: 0 }, expect: { end: "exception", vector: 0, eip: 0, regs: { eax: 7 } } },
  { name: "UD2: #UD", code: [0x0f, 0x0b], expect: { end: "exception", vector: 6, eip: 0 } },
  { name: "INT3: #BP is a trap, EIP after it", code: [0xcc], expect: { end: "exception", vector: 3, eip: 1 } },
  { name: "a load outside the DATA area: #PF", code: [0x8b, 0x00], regs: { eax: 0x1234 }, expect: { end: "exception", vector: 14, eip: 0 } },
  { name: "PUSH EAX stores below ESP", code: [0x50], regs: { eax: 0xdeadbeef }, expect: { end: "done", eip: 1, regs: { esp: STACK - 4 }, data: [STACK_OFFSET - 4, [0xef, 0xbe, 0xad, 0xde]] } },
  { name: "FS reaches the DATA area from offset 0", code: [0x64, 0x8b, 0x03], regs: { ebx: 0x10 }, data: [0x10, [1, 2, 3, 4]], expect: { end: "done", eip: 3, regs: { eax: 0x04030201 } } },
  { name: "a SEG16 case's 16-bit address uses BX only", code: [0x67, 0x8b, 0x07], regs: { ebx: 0xabcd0010 }, seg16: true, data: [0x10, [5, 6, 7, 8]], expect: { end: "done", eip: 3, regs: { eax: 0x08070605 } } },
  { name: "STD sets DF", code: [0xfd], expect: { end: "done", eip: 1, df: true } },
  { name: "16-bit code: ADD AX,BX keeps EAX's upper half", code: [0x01, 0xd8], regs: { eax: 0x1234ffff, ebx: 1 }, code16: true, expect: { end: "done", eip: 2, regs: { eax: 0x12340000 }, arith: 0x1 | 0x40 | 0x10 | 0x4 } },
  { name: "16-bit code: 0x66 selects ADD EAX,EBX", code: [0x66, 0x01, 0xd8], regs: { eax: 0x1234ffff, ebx: 1 }, code16: true, expect: { end: "done", eip: 3, regs: { eax: 0x12350000 }, arith: 0x10 | 0x4 } },
  { name: "16-bit code: MOV AX,[BX] uses a 16-bit address without 0x67", code: [0x8b, 0x07], regs: { ebx: 0xabcd0010 }, seg16: true, code16: true, data: [0x10, [5, 6, 7, 8]], expect: { end: "done", eip: 2, regs: { eax: 0x0605 } } },
  { name: "16-bit code: 0x67 selects a 32-bit address", code: [0x67, 0x66, 0x8b, 0x03], regs: { ebx: DATA_BASE + 0x10 }, code16: true, data: [0x10, [5, 6, 7, 8]], expect: { end: "done", eip: 4, regs: { eax: 0x08070605 } } },
  { name: "16-bit code: CALL rel16 pushes a 16-bit IP through ESP", code: [0xe8, 0x00, 0x00], code16: true, expect: { end: "done", eip: 3, regs: { esp: STACK - 2 }, data: [STACK_OFFSET - 2, [3, 0]] } },
  { name: "16-bit code: UD2 faults at its offset in the code segment", code: [0x90, 0x0f, 0x0b], code16: true, expect: { end: "exception", vector: 6, eip: 1 } },
  { name: "REP STOSB with DF=1 stores downward", code: [0xf3, 0xaa], regs: { eax: 0x5a, ecx: 3, edi: DATA_BASE + 0x102 }, eflags: EFLAGS_DF, expect: { end: "done", eip: 2, regs: { ecx: 0, edi: DATA_BASE + 0xff }, data: [0x100, [0x5a, 0x5a, 0x5a]] } },
];

function handCase(h: HandCase): DiffCase {
  const data = new Uint8Array(DATA_SIZE);
  if (h.data) data.set(h.data[1], h.data[0]);
  const regs = Uint32Array.from(GPRS, (name) => h.regs?.[name] ?? (name === "esp" ? STACK : 0));
  return { code: Uint8Array.from(h.code), regs, eflags: h.eflags ?? 0, seg16: h.seg16 ?? false, code16: h.code16 ?? false, data };
}

test("the native runner gives the results the SDM defines for hand-checked cases", async () => {
  const { results } = await runNative(HAND_CHECKED.map(handCase));
  HAND_CHECKED.forEach((h, i) => {
    const r = results[i];
    const { expect: e } = h;
    assert.equal(r.end.kind, e.end, `${h.name}: end ${JSON.stringify(r.end)}`);
    if (r.end.kind === "exception") assert.equal(r.end.vector, e.vector, `${h.name}: vector`);
    assert.equal(r.eip, codeOrigin(handCase(h)) + e.eip, `${h.name}: eip`);
    for (const [name, value] of Object.entries(e.regs ?? {})) assert.equal(r.regs[GPRS.indexOf(name as Gpr)], value, `${h.name}: ${name}`);
    if (e.arith !== undefined) assert.equal(r.eflags & EFLAGS_ARITH, e.arith, `${h.name}: arithmetic flags`);
    if (e.df !== undefined) assert.equal((r.eflags & EFLAGS_DF) !== 0, e.df, `${h.name}: DF`);
    if (e.data) assert.deepEqual([...r.data.subarray(e.data[0], e.data[0] + e.data[1].length)], e.data[1], `${h.name}: data`);
  });
});

// ---- the generators ----

test("a case is a function of the seed, its index and its row", () => {
  const row = ROWS.find((r) => r.name === "ADD Ev,Gv") ?? assert.fail("no ADD Ev,Gv row");
  const [a, b] = [generateCase(row, 42, 7), generateCase(row, 42, 7)];
  assert.deepEqual([a.code, a.regs, a.eflags, a.seg16, a.code16, a.data], [b.code, b.regs, b.eflags, b.seg16, b.code16, b.data]);
  assert.notDeepEqual(a.regs, generateCase(row, 42, 8).regs);
});

test("row names are unique and CORE_PENDING and CODE32_ONLY name existing rows", () => {
  const names = new Set(ROWS.map((r) => r.name));
  assert.equal(names.size, ROWS.length);
  assert.deepEqual([...CORE_PENDING.keys()].filter((n) => !names.has(n)), []);
  assert.deepEqual([...CODE32_ONLY.keys()].filter((n) => !names.has(n)), []);
});

test("rows run in 16-bit code except the CODE32_ONLY ones", () => {
  for (const row of ROWS) {
    const modes = new Set(Array.from({ length: 64 }, (_, i) => generateCase(row, 1, i).code16));
    assert.deepEqual([...modes].sort(), CODE32_ONLY.has(row.name) ? [false] : [false, true], row.name);
  }
});

test("every one-byte and 0F opcode slot is tested by a row or listed with the reason it is not", (t) => {
  const slots = collectCoverage(ROWS);
  if (env.DIFF_COVERAGE === "1") for (const line of formatCoverage(slots).split("\n")) t.diagnostic(line);
  const tested = slots.filter((s) => s.rows.length > 0);
  t.diagnostic(`opcode slots: ${tested.length} of ${slots.length} tested (${ROWS.length} rows)`);
  assert.deepEqual(slots.filter((s) => s.rows.length === 0 && s.reason === undefined).map((s) => s.key), [], "untested slots without a reason");
  assert.deepEqual(tested.filter((s) => s.reason !== undefined).map((s) => s.key), [], "slots listed as untested that rows test");
});

// ---- host CPU against the core ----

interface RowStats { compared: number; mismatched: number; code16: number; mismatched16: number; fields: Map<string, number> }

test(`the core matches the host CPU (${CASES} cases, DIFF_SEED=${SEED})`, async (t) => {
  const rows = selectRows(env.DIFF_ONLY);
  assert.ok(rows.length > 0, `DIFF_ONLY=${env.DIFF_ONLY} matches no row`);
  const compared = new Set(rows.filter((r) => env.DIFF_CORE === "all" || !CORE_PENDING.has(r.name)).map((r) => r.name));
  const core = new CoreRunner((await runNative([])).selectors);
  const stats = new Map<string, RowStats>();
  const firstMismatch = new Map<string, string>();
  const unexpectedFaults: string[] = [];
  const started = performance.now();

  for (let first = 0; first < CASES; first += BATCH) {
    const batch: { row: Row; c: GeneratedCase; index: number }[] = [];
    for (let index = first; index < Math.min(first + BATCH, CASES); index++) {
      const row = rows[index % rows.length];
      batch.push({ row, c: generateCase(row, SEED, index), index });
    }
    const native = runNative(batch.map((x) => x.c));
    const coreResults: (MachineResult | undefined)[] = [];
    for (const [i, { row, c, index }] of batch.entries()) {
      // Let the event loop feed the runner's pipes while the core works.
      if (i % 256 === 0) await setImmediate();
      coreResults.push(compared.has(row.name) ? core.run(c, index % 4 === 3) : undefined);
    }
    const { results } = await native;
    batch.forEach(({ row, c, index }, i) => {
      const host = results[i];
      if (host.end.kind === "exception" && !row.faults.includes(host.end.vector)) {
        unexpectedFaults.push(describeMismatch(c, index, host, undefined, ["host raised an exception the row does not expect"]));
      }
      const mine = coreResults[i];
      if (!mine) return;
      const s = stats.get(row.name) ?? { compared: 0, mismatched: 0, code16: 0, mismatched16: 0, fields: new Map() };
      stats.set(row.name, s);
      s.compared++;
      if (c.code16) s.code16++;
      const fields = compareResults(c, host, mine);
      if (fields.length === 0) return;
      s.mismatched++;
      if (c.code16) s.mismatched16++;
      for (const f of fields) s.fields.set(f, (s.fields.get(f) ?? 0) + 1);
      if (!firstMismatch.has(row.name)) firstMismatch.set(row.name, describeMismatch(c, index, host, mine, fields));
    });
  }

  const seconds = (performance.now() - started) / 1000;
  const comparedCases = [...stats.values()].reduce((n, s) => n + s.compared, 0);
  t.diagnostic(`seed ${SEED} (DIFF_SEED=${SEED} reproduces), ${CASES} cases over ${rows.length} rows in ${seconds.toFixed(1)} s (${Math.round(CASES / seconds)} cases/s)`);
  const compared16 = [...stats.values()].reduce((n, s) => n + s.code16, 0);
  t.diagnostic(`${comparedCases} cases of ${stats.size} rows compared with the core (${compared16} of them in 16-bit code); the rest ran on the host only`);
  for (const row of rows) if (!compared.has(row.name)) t.diagnostic(`not compared: ${row.name}: ${CORE_PENDING.get(row.name)}`);
  const failing = [...stats].filter(([, s]) => s.mismatched > 0).sort((a, b) => b[1].mismatched - a[1].mismatched);
  const table = failing.map(([name, s]) => `  ${name}: ${s.mismatched}/${s.compared} differ, ${s.mismatched16}/${s.code16} of them in 16-bit code (${[...s.fields].map(([f, n]) => `${f} ${n}`).join(", ")})`);
  if (failing.length > 0) t.diagnostic(`${failing.length} of ${stats.size} compared rows differ, ${stats.size - failing.length} match`);
  if (unexpectedFaults.length > 0) {
    assert.fail([`the host raised ${unexpectedFaults.length} exceptions their rows do not expect (a generator bug):`, ...unexpectedFaults.slice(0, SHOWN)].join("\n"));
  }
  if (failing.length > 0) {
    const examples = failing.slice(0, SHOWN).map(([name]) => firstMismatch.get(name));
    assert.fail([`${failing.length} rows differ between the host CPU and the core (DIFF_SEED=${SEED}):`, ...table, "", `The first mismatch of ${examples.length} of them:`, ...examples].join("\n"));
  }
});
