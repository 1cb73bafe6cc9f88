/**
 * Compares what the host CPU and the core ended a case with, masking what the SDM leaves
 * undefined, and describes a mismatch for a person: the row, the listing, the inputs, both
 * outcomes and the fields that differ.
 */
import { hex, type GeneratedCase } from "./builder";
import { DATA_BASE, EFLAGS_DF, EFLAGS_INPUT, GPR32, codeOrigin, type CaseEnd, type MachineResult } from "./case-format";

/** Exceptions a core that does not deliver them yet may answer with an unsupported-instruction exit. */
const LENIENT_VECTORS = new Set([0, 6]);
const FLAG_NAMES: readonly [number, string][] = [[0x1, "CF"], [0x4, "PF"], [0x10, "AF"], [0x40, "ZF"], [0x80, "SF"], [EFLAGS_DF, "DF"], [0x800, "OF"]];

/** Names the flags set in `eflags`. */
export const flagNames = (eflags: number): string => FLAG_NAMES.filter(([bit]) => eflags & bit).map(([, name]) => name).join(" ") || "-";

/** Whether two ends count as the same outcome. */
function sameEnd(native: CaseEnd, core: CaseEnd): boolean {
  if (native.kind === "done") return core.kind === "done";
  if (native.kind !== "exception") return false;
  if (core.kind === "exception") return core.vector === native.vector;
  return core.kind === "unsupported" && LENIENT_VECTORS.has(native.vector);
}

/** The differing fields, empty when the core matched the host. */
export function compareResults(c: GeneratedCase, native: MachineResult, core: MachineResult): string[] {
  const fields: string[] = [];
  if (!sameEnd(native.end, core.end)) fields.push("end");
  if (native.eip !== core.eip) fields.push("eip");
  GPR32.forEach((name, r) => {
    if (!(c.undefinedRegs & (1 << r)) && native.regs[r] !== core.regs[r]) fields.push(name);
  });
  const flagMask = EFLAGS_INPUT & ~c.undefinedFlags;
  if ((native.eflags ^ core.eflags) & flagMask) fields.push("eflags");
  if (Buffer.compare(native.data, core.data) !== 0) fields.push("data");
  return fields;
}

const describeEnd = (end: CaseEnd): string => {
  switch (end.kind) {
    case "done": return "ran to the end";
    case "exception": return `exception ${end.vector} (${end.detail})`;
    case "unsupported": return `unsupported instruction, opcode ${hex(end.opcode)}`;
    case "other": return end.detail;
  }
};

const regLine = (regs: Uint32Array): string => GPR32.map((name, r) => `${name}=${hex(regs[r])}`).join(" ");

/** Byte ranges where two DATA areas differ, as "+off..off: native xx xx, core yy yy (was zz zz)". */
function dataDiffs(initial: Uint8Array, native: Uint8Array, core: Uint8Array, limit = 4): string[] {
  const ranges: [number, number][] = [];
  for (let i = 0; i < native.length; i++) {
    if (native[i] === core[i]) continue;
    const last = ranges.at(-1);
    if (last && i - last[1] <= 4) last[1] = i;
    else ranges.push([i, i]);
  }
  const bytes = (a: Uint8Array, from: number, to: number): string => Array.from(a.subarray(from, to + 1), (v) => v.toString(16).padStart(2, "0")).join(" ");
  return ranges.slice(0, limit).map(([from, to]) => `DATA+${hex(from)}..${hex(to)} (${hex(DATA_BASE + from)}): native ${bytes(native, from, to)}, core ${bytes(core, from, to)}, was ${bytes(initial, from, to)}`);
}

/** A readable report of one case: its inputs, the host's result and, when compared, the core's. */
export function describeMismatch(c: GeneratedCase, index: number, native: MachineResult, core: MachineResult | undefined, fields: readonly string[]): string {
  const flagMask = EFLAGS_INPUT & ~c.undefinedFlags;
  const state = (r: MachineResult): string =>
    `eip=${hex(r.eip)} (code+${r.eip - codeOrigin(c)}) ${regLine(r.regs)} eflags=${hex(r.eflags)} [${flagNames(r.eflags & EFLAGS_INPUT)}]`;
  const lines = [
    `${c.row}  (case #${index}, ${c.code16 ? "16-bit code (CS.D=0, CS base CODE_BASE)" : "32-bit code"}${c.seg16 ? ", DS/ES = DATA segment" : ""})`,
    ...c.listing.map((l) => `    ${l}`),
    `  in:     ${regLine(c.regs)} eflags=${hex(c.eflags)} [${flagNames(c.eflags)}]`,
    `  native: ${describeEnd(native.end)}; ${state(native)}`,
    ...(core ? [`  core:   ${describeEnd(core.end)}; ${state(core)}`] : []),
    `  differs: ${fields.join(", ")}${c.undefinedFlags || c.undefinedRegs ? `  (masked: flags [${flagNames(c.undefinedFlags)}]${c.undefinedRegs ? `, ${GPR32.filter((_, r) => c.undefinedRegs & (1 << r)).join(" ")}` : ""})` : ""}`,
  ];
  if (core && fields.includes("eflags")) lines.push(`  eflags compared [${flagNames(flagMask)}]: native [${flagNames(native.eflags & flagMask)}], core [${flagNames(core.eflags & flagMask)}]`);
  if (core && fields.includes("data")) lines.push(...dataDiffs(c.data, native.data, core.data).map((l) => `  ${l}`));
  return lines.join("\n");
}
