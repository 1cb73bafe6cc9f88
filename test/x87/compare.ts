/**
 * Compares a case's native and core results: the fault (vector and EIP), EFLAGS' arithmetic
 * flags, EAX, the DATA window byte for byte, and in it the final FNSAVE image field by field so
 * a mismatch names what differs. Transcendental cases compare registers within
 * TRANSCENDENTAL_ULPS units in the last place (of the 64-bit significand) and ignore C1, the
 * rounding direction of a result that may differ by that much.
 */
import type { GeneratedCase } from "./cases";
import { EFLAGS_INPUT, WIN_FXSAVE, WIN_OUT, WINDOW_SIZE } from "./format";
import type { X87Result } from "./native";

/** The tolerance of transcendental results, in units in the last place. */
export const TRANSCENDENTAL_ULPS = 1n;

const SW_C1 = 0x200;

/** FXSAVE fields the core stores as zero (no SSE): MXCSR, MXCSR_MASK and the XMM registers. */
const FX_IGNORED: readonly [number, number][] = [[WIN_FXSAVE + 24, WIN_FXSAVE + 32], [WIN_FXSAVE + 160, WIN_FXSAVE + 512]];

const hex = (v: number | bigint, digits = 4): string => `0x${v.toString(16).padStart(digits, "0")}`;

/** ST(i) of the FNSAVE image at WIN_OUT. */
export function readReg(w: Uint8Array, i: number): { se: number; sig: bigint } {
  const at = WIN_OUT + 28 + i * 10;
  let sig = 0n;
  for (let k = 7; k >= 0; k--) sig = (sig << 8n) | BigInt(w[at + k]);
  return { se: w[at + 8] | (w[at + 9] << 8), sig };
}

/** A little-endian dword of the window. */
export const u32 = (w: Uint8Array, at: number): number => (w[at] | (w[at + 1] << 8) | (w[at + 2] << 16) | (w[at + 3] << 24)) >>> 0;

/** The distance in units in the last place between two finite values of the same sign, or -1. */
export function ulpDistance(a: { se: number; sig: bigint }, b: { se: number; sig: bigint }): bigint {
  if ((a.se & 0x8000) !== (b.se & 0x8000)) return -1n;
  const ea = a.se & 0x7fff;
  const eb = b.se & 0x7fff;
  if (ea === 0x7fff || eb === 0x7fff) return -1n;
  if (Math.abs(ea - eb) > 1) return -1n;
  // Both significands on the smaller one's scale (denormals have exponent 1).
  const lo = Math.min(Math.max(ea, 1), Math.max(eb, 1));
  const scaled = (e: number, sig: bigint): bigint => sig << BigInt(Math.max(e, 1) - lo);
  const d = scaled(ea, a.sig) - scaled(eb, b.sig);
  return d < 0n ? -d : d;
}

/**
 * Which bits of the seven environment dwords are compared. After a fault the native state comes
 * from the signal frame, which a 64-bit kernel fills from XSAVE64: no FOP, and the current CS and
 * DS in place of FCS and FDS (arch/x86/kernel/fpu/regset.c, convert_from_fxsr); on AMD no FIP
 * and FDP either unless an exception is pending. Transcendentals: C1 ignored.
 */
function fieldMasks(c: GeneratedCase, native: X87Result): number[] {
  const masks = [-1, -1, -1, -1, -1, -1, -1];
  if (c.transcendental) masks[1] = ~SW_C1;
  if (native.fault) {
    masks[4] = 0;
    masks[6] = 0;
    // AMD's XSAVE, like its FXSAVE, stores FIP and FDP only while an exception is pending.
    if ((native.window[WIN_OUT + 4] & 0x80) === 0) masks[3] = masks[5] = 0;
  }
  // An FXRSTOR from an area the host's FXSAVE stored without pointers (see fxPointersOmitted).
  const save = c.forms.findIndex((f) => f.name === "FXSAVE");
  if (save >= 0 && c.forms.slice(save + 1).some((f) => f.name === "FXRSTOR") && fxPointersOmitted(native.window)) {
    masks[3] = masks[4] = masks[5] = 0;
    masks[6] &= 0xffff0000;
  }
  return masks;
}

/**
 * AMD processors store FXSAVE's FOP, FIP, FCS, FDP and FDS only while an exception is pending
 * (ES); with ES clear those bytes are zero natively, and the core (which stores them always, as
 * Intel processors do) is not compared there.
 */
function fxPointersOmitted(window: Uint8Array): boolean {
  const esPending = (window[WIN_FXSAVE + 2] & 0x80) !== 0;
  return !esPending && window.subarray(WIN_FXSAVE + 6, WIN_FXSAVE + 24).every((b) => b === 0);
}

/** The largest distance in units in the last place between the two results' registers (-1: not comparable). */
export function maxUlps(native: X87Result, core: X87Result): bigint {
  let worst = 0n;
  for (let i = 0; i < 8; i++) {
    const a = readReg(native.window, i);
    const b = readReg(core.window, i);
    if (a.se === b.se && a.sig === b.sig) continue;
    const d = ulpDistance(a, b);
    if (d < 0n) return -1n;
    if (d > worst) worst = d;
  }
  return worst;
}

/** The differences between the native and the core result of a case (empty when they agree). */
export function compareResults(c: GeneratedCase, native: X87Result, core: X87Result): string[] {
  const out: string[] = [];
  const masks = fieldMasks(c, native);
  if (native.fault || core.fault) {
    const n = native.fault;
    const k = core.fault;
    if (!n || !k || n.vector !== k.vector || n.eip !== k.eip) {
      out.push(`end: native ${n ? `#${n.vector} at ${hex(n.eip, 8)} (${n.detail})` : "done"}, core ${k ? `#${k.vector} at ${hex(k.eip, 8)} (${k.detail})` : "done"}`);
      return out;
    }
  }
  const flagsNative = native.eflags & EFLAGS_INPUT;
  const flagsCore = core.eflags & EFLAGS_INPUT;
  if (flagsNative !== flagsCore) out.push(`eflags: native ${hex(flagsNative, 3)}, core ${hex(flagsCore, 3)}`);
  if (native.eax !== core.eax) out.push(`eax: native ${hex(native.eax, 8)}, core ${hex(core.eax, 8)}`);
  const usesFx = c.forms.some((f) => f.operand === "fx");
  for (let i = 0; i < WINDOW_SIZE; i++) {
    if (i >= WIN_OUT && i < WIN_OUT + 108) continue;
    if (usesFx && FX_IGNORED.some(([from, to]) => i >= from && i < to)) continue;
    if (usesFx && i >= WIN_FXSAVE + 6 && i < WIN_FXSAVE + 24 && fxPointersOmitted(native.window)) continue;
    if (native.window[i] !== core.window[i]) {
      out.push(`window[${hex(i, 3)}]: native ${hex(native.window[i], 2)}, core ${hex(core.window[i], 2)}`);
      break;
    }
  }
  const names = ["CW", "SW", "TW", "FIP", "FCS|FOP", "FDP", "FDS"];
  names.forEach((name, f) => {
    const a = (u32(native.window, WIN_OUT + f * 4) & masks[f]) >>> 0;
    const b = (u32(core.window, WIN_OUT + f * 4) & masks[f]) >>> 0;
    if (a !== b) out.push(`${name}: native ${hex(a, 8)}, core ${hex(b, 8)}`);
  });
  for (let i = 0; i < 8; i++) {
    const a = readReg(native.window, i);
    const b = readReg(core.window, i);
    if (a.se === b.se && a.sig === b.sig) continue;
    if (c.transcendental) {
      const d = ulpDistance(a, b);
      if (d >= 0n && d <= TRANSCENDENTAL_ULPS) continue;
    }
    out.push(`ST(${i}): native ${hex(a.se)}:${hex(a.sig, 16)}, core ${hex(b.se)}:${hex(b.sig, 16)}`);
  }
  return out;
}
