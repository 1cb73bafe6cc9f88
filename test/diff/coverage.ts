/**
 * Which opcode slots the differential rows test: every one-byte and 0F opcode (by ModRM /digit for
 * the groups whose digits are different instructions) is either tested by some row, as found by
 * generating cases with a fixed seed and recording what the rows emitted, or listed here as not
 * tested, with the reason. Prefix bytes count as tested when a tested instruction carried them.
 */
import { CaseBuilder, Rng, type SlotUse } from "./builder";
import type { Row } from "./generators";

/** Opcodes whose ModRM reg field selects the instruction (SDM vol. 2, table A-6). */
const GROUPS = { "1": [0x80, 0x81, 0x82, 0x83, 0x8f, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff], "0f": [0x1f, 0xba, 0xc7] } as const;

const DESCRIPTOR = "loads a segment descriptor (the core has no GDT in this test)";
const SSE = "SSE/MMX: not i686 integer";

/**
 * Slots not tested, as "XX", "XX-YY", "0F XX-YY", optionally with " /d" or " /d-e" for a group.
 * A group slot listed without digits covers all eight.
 */
const UNTESTED: readonly [string, string][] = [
  ["07", DESCRIPTOR], ["17", DESCRIPTOR], ["1F", DESCRIPTOR], ["8E", DESCRIPTOR], ["C4-C5", DESCRIPTOR],
  ["9A", `far CALL: ${DESCRIPTOR}`], ["EA", `far JMP: ${DESCRIPTOR}`], ["CA-CB", `far RET: ${DESCRIPTOR}`],
  ["FF /3", `far CALL: ${DESCRIPTOR}`], ["FF /5", `far JMP: ${DESCRIPTOR}`], ["CF", "IRET: a protected-mode return through descriptors"],
  ["6C-6F", "INS/OUTS: port I/O, privileged at IOPL 0"], ["E4-E7", "IN/OUT: port I/O, privileged at IOPL 0"],
  ["EC-EF", "IN/OUT: port I/O, privileged at IOPL 0"], ["F4", "HLT: privileged"], ["FA-FB", "CLI/STI: IOPL-sensitive"],
  ["CC-CE", "INT3/INT n/INTO: software interrupts go through the IDT, which the core has none of here"],
  ["F1", "INT1/ICEBP: the debug-exception path"],
  ["9B", "FWAIT: x87"], ["D8-DF", "x87 FPU"], ["D6", "SALC: undocumented"],
  ["F6 /1", "TEST alias: reserved in the SDM"], ["F7 /1", "TEST alias: reserved in the SDM"],
  ["C0 /6", "SAL alias: reserved in the SDM"], ["C1 /6", "SAL alias: reserved in the SDM"], ["D0 /6", "SAL alias: reserved in the SDM"],
  ["D1 /6", "SAL alias: reserved in the SDM"], ["D2 /6", "SAL alias: reserved in the SDM"], ["D3 /6", "SAL alias: reserved in the SDM"],
  ["8F /1-7", "reserved (the XOP escape on some AMD parts)"], ["C6 /1-7", "reserved (XABORT with TSX)"], ["C7 /1-7", "reserved (XBEGIN with TSX)"],
  ["FE /2-7", "reserved"], ["FF /7", "reserved"],
  ["0F 00-01", "system instructions on descriptor tables and control state"], ["0F 02-03", `LAR/LSL: ${DESCRIPTOR}`],
  ["0F 04", "reserved"], ["0F 05", "SYSCALL: system"], ["0F 06", "CLTS: privileged"], ["0F 07", "SYSRET: system"],
  ["0F 08-09", "INVD/WBINVD: privileged"], ["0F 0A", "reserved"], ["0F 0C", "reserved"],
  ["0F 0D", "PREFETCH/PREFETCHW: a hint, not i686"], ["0F 0E-0F", "3DNow!"], ["0F 10-17", SSE], ["0F 18", "PREFETCHh: SSE"],
  ["0F 19-1E", "reserved NOP hints"], ["0F 1F /1-7", "reserved NOP hints"], ["0F 20-23", "MOV to/from CR/DR: privileged"],
  ["0F 24-27", "reserved (MOV TR on the 386/486)"], ["0F 28-2F", SSE], ["0F 30", "WRMSR: privileged"], ["0F 31", "RDTSC: time-dependent"],
  ["0F 32", "RDMSR: privileged"], ["0F 33", "RDPMC: host-dependent"], ["0F 34-35", "SYSENTER/SYSEXIT: system"], ["0F 36", "reserved"],
  ["0F 37", "GETSEC: SMX"], ["0F 38-3F", "three-byte maps and reserved: not i686"], ["0F 50-7F", SSE],
  ["0F A1", DESCRIPTOR], ["0F A9", DESCRIPTOR], ["0F B2", DESCRIPTOR], ["0F B4-B5", DESCRIPTOR], ["0F A2", "CPUID: host-dependent"],
  ["0F A6-A7", "reserved"], ["0F AA", "RSM: SMM only"], ["0F AE", "x87/SSE state and fences"], ["0F B8", "POPCNT (F3)/JMPE: not i686"],
  ["0F BA /0-3", "reserved"], ["0F C7 /0", "reserved"], ["0F C7 /2-5", "reserved"], ["0F C7 /6-7", "RDRAND/RDSEED: not i686"],
  ["0F C2-C6", SSE], ["0F D0-FE", SSE],
];

const h2 = (v: number): string => v.toString(16).toUpperCase().padStart(2, "0");
const slotName = (map: "1" | "0f", op: number): string => `${map === "0f" ? "0F " : ""}${h2(op)}`;
const isGroup = (map: "1" | "0f", op: number): boolean => (GROUPS[map] as readonly number[]).includes(op);

/** Every slot key: "XX", "0F XX", and "XX /d" for group digits. */
function allSlots(): string[] {
  return (["1", "0f"] as const).flatMap((map) =>
    Array.from({ length: 256 }, (_, op) => (isGroup(map, op) ? Array.from({ length: 8 }, (_, d) => `${slotName(map, op)} /${d}`) : [slotName(map, op)])).flat(),
  );
}

/** The slot keys one UNTESTED entry names. */
function expand(spec: string): string[] {
  const m = /^(0F )?([0-9A-F]{2})(?:-([0-9A-F]{2}))?(?: \/(\d)(?:-(\d))?)?$/.exec(spec);
  if (!m) throw new Error(`bad slot spec "${spec}"`);
  const map = m[1] ? "0f" : "1";
  const [from, to] = [parseInt(m[2], 16), parseInt(m[3] ?? m[2], 16)];
  const digits = m[4] === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : Array.from({ length: Number(m[5] ?? m[4]) - Number(m[4]) + 1 }, (_, i) => Number(m[4]) + i);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i).flatMap((op) =>
    isGroup(map, op) ? digits.map((d) => `${slotName(map, op)} /${d}`) : [slotName(map, op)],
  );
}

/** Slot keys an instruction under test covers: its opcode (and digit) and its prefixes. */
function slotKeys(use: SlotUse): string[] {
  const keys = [isGroup(use.map, use.op) && use.ext !== undefined ? `${slotName(use.map, use.op)} /${use.ext}` : slotName(use.map, use.op)];
  if (use.map === "0f") keys.push("0F");
  return [...keys, ...use.prefixes.map((p) => slotName("1", p))];
}

/** One slot: the rows that test it, or why none does. */
export interface SlotCoverage { key: string; rows: string[]; reason?: string }

/** Coverage of every slot by `rows`, from `casesPerRow` cases each with a fixed seed. */
export function collectCoverage(rows: readonly Row[], casesPerRow = 100): SlotCoverage[] {
  const tested = new Map<string, Set<string>>();
  rows.forEach((row, r) => {
    for (let i = 0; i < casesPerRow; i++) {
      const b = new CaseBuilder(new Rng(r * 7919 + i));
      row.generate(b);
      for (const key of b.slots.flatMap(slotKeys)) tested.set(key, (tested.get(key) ?? new Set()).add(row.name));
    }
  });
  const reasons = new Map(UNTESTED.flatMap(([spec, reason]) => expand(spec).map((key) => [key, reason] as const)));
  return allSlots().map((key) => ({ key, rows: [...(tested.get(key) ?? [])], reason: reasons.get(key) }));
}

/** The coverage as text, one slot a line. */
export function formatCoverage(slots: readonly SlotCoverage[]): string {
  return slots.map((s) => `${s.key.padEnd(9)} ${s.rows.length > 0 ? `tested: ${s.rows.slice(0, 4).join("; ")}${s.rows.length > 4 ? `; +${s.rows.length - 4} rows` : ""}` : `not tested: ${s.reason ?? "NO REASON GIVEN"}`}`).join("\n");
}
