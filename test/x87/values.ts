/**
 * Seeded random values for the x87 differential test, weighted toward the edges the x87 treats
 * specially: signed zeros, denormals and pseudo-denormals, the smallest and largest normals,
 * infinities, quiet and signaling NaNs, the unsupported encodings (unnormals, pseudo-NaNs,
 * pseudo-infinities), integers, and significands at the rounding boundaries of 24, 53 and 64
 * bits (the round bit set, sticky bits just above or below half).
 */

/** A small fast PRNG (sfc32) seeded by one 32-bit number, so a failing run can be repeated. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  /** One element of a list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** A uniform 64-bit unsigned integer. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** A uniform integer of `bits` bits. */
  bits(bits: number): bigint {
    return bits >= 64 ? this.u64() : this.u64() & ((1n << BigInt(bits)) - 1n);
  }
}

/** An 80-bit extended value: sign+exponent word and 64-bit significand. */
export interface Ext80 { se: number; sig: bigint }

export const BIAS = 16383;
const J = 1n << 63n;
const MASK64 = (1n << 64n) - 1n;

/**
 * A significand with bit 63 set whose low bits sit near a rounding boundary of 24, 53 or 64-bit
 * precision, or random.
 */
export function significand(r: Random): bigint {
  const base = J | r.u64();
  switch (r.below(8)) {
    case 0: case 1: return base;
    case 2: { // exactly representable at 24 or 53 bits, or one unit above/below
      const drop = BigInt(r.pick([40, 11]));
      const kept = base & ~((1n << drop) - 1n);
      return (kept + BigInt(r.pick([0, 1, -1, 0]))) & MASK64 | J;
    }
    case 3: { // the round bit at 24/53/64 set with nothing below (a tie), or one ulp around it
      const drop = BigInt(r.pick([40, 11, 1]));
      const kept = base & ~((1n << drop) - 1n);
      return (kept | (1n << (drop - 1n))) + BigInt(r.pick([0, 0, 1, -1]));
    }
    case 4: return J | (r.chance(0.5) ? 0n : MASK64 >> 1n); // 1.0 or all ones
    case 5: return J | (r.bits(r.below(64)) << BigInt(r.below(8))); // few significant bits
    case 6: return (MASK64 << BigInt(r.below(64))) & MASK64 | J; // ones then zeros
    default: return J | BigInt(r.below(1 << 20)) << BigInt(63 - 20); // short integers
  }
}

/** An exponent: mostly moderate, sometimes at the extremes of the range. */
function exponent(r: Random): number {
  switch (r.below(10)) {
    case 0: return 1 + r.below(70); // near the smallest normal
    case 1: return 0x7ffe - r.below(70); // near the largest
    case 2: return BIAS + 60 + r.below(8); // near 2^63 (integer conversions)
    case 3: return r.pick([BIAS - 126, BIAS - 127, BIAS - 149, BIAS - 150, BIAS + 127, BIAS + 128, BIAS - 1022, BIAS - 1023, BIAS - 1074, BIAS + 1023, BIAS + 1024]) + r.below(3) - 1;
    case 4: return BIAS + r.below(16) - 1; // small integers and fractions near 1
    default: return BIAS - 40 + r.below(80);
  }
}

/** A random extended value drawn from the edge classes. */
export function extended(r: Random): Ext80 {
  const sign = r.chance(0.5) ? 0x8000 : 0;
  switch (r.below(24)) {
    case 0: return { se: sign, sig: 0n };
    case 1: return { se: sign, sig: r.u64() >> BigInt(1 + r.below(63)) }; // denormal
    case 2: return { se: sign, sig: J | r.u64() }; // pseudo-denormal
    case 3: return { se: sign | 0x7fff, sig: J };
    case 4: return { se: sign | 0x7fff, sig: J | (1n << 62n) | r.bits(r.below(63)) }; // QNaN
    case 5: return { se: sign | 0x7fff, sig: J | (r.bits(62) || 1n) }; // SNaN
    case 6: return { se: 0xffff, sig: 0xc000000000000000n }; // the indefinite
    case 7: return { se: sign | (1 + r.below(0x7ffe)), sig: r.u64() >> 1n }; // unnormal
    case 8: return { se: sign | 0x7fff, sig: r.u64() >> 1n }; // pseudo-NaN / pseudo-infinity
    case 9: return { se: sign | r.pick([1, 0x7ffe]), sig: r.pick([J, MASK64]) }; // min/max normal
    default: return { se: sign | exponent(r), sig: significand(r) };
  }
}

/** A value related to `base` (for two-operand arithmetic): near it, a binade away, or mirrored. */
export function related(r: Random, base: Ext80): Ext80 {
  const exp = base.se & 0x7fff;
  const sign = r.chance(0.5) ? base.se & 0x8000 : (base.se ^ 0x8000) & 0x8000;
  switch (r.below(6)) {
    case 0: return { se: sign | exp, sig: base.sig };
    case 1: return { se: sign | exp, sig: (base.sig + BigInt(r.pick([1, -1, 2, 1 << 11, -(1 << 11), 1 << 40]))) & MASK64 | (base.sig & J) };
    case 2: return { se: sign | Math.max(0, Math.min(0x7ffe, exp + r.below(130) - 65)), sig: significand(r) };
    case 3: return { se: sign | Math.max(0, Math.min(0x7ffe, exp - r.pick([64, 65, 63, 24, 53, 1]))), sig: significand(r) };
    default: return { se: sign | Math.max(1, Math.min(0x7ffe, exp + r.below(6) - 3)), sig: significand(r) };
  }
}

/** An m32fp (8/23) or m64fp (11/52) bit pattern from the edge classes. */
export function binaryBits(r: Random, expBits: number, fracBits: number): bigint {
  const sign = r.chance(0.5) ? 1n : 0n;
  const expMax = (1 << expBits) - 1;
  const bias = (expMax >> 1);
  const frac = (): bigint => {
    switch (r.below(4)) {
      case 0: return 0n;
      case 1: return (1n << BigInt(fracBits)) - 1n;
      default: return r.bits(fracBits);
    }
  };
  let e: number;
  let f = frac();
  switch (r.below(10)) {
    case 0: e = 0; f = 0n; break;
    case 1: e = 0; f = f || 1n; break; // denormal
    case 2: e = expMax; f = 0n; break; // infinity
    case 3: e = expMax; f = (f || 1n) | (r.chance(0.5) ? 1n << BigInt(fracBits - 1) : 0n); break; // NaN
    case 4: e = r.pick([1, expMax - 1]); break;
    default: e = bias + r.below(64) - 32;
  }
  return (sign << BigInt(expBits + fracBits)) | (BigInt(e) << BigInt(fracBits)) | f;
}

/** An integer of `bytes` bytes as unsigned bits, weighted toward 0, +-1 and the extremes. */
export function integerBits(r: Random, bytes: number): bigint {
  const bits = BigInt(bytes * 8);
  const mask = (1n << bits) - 1n;
  switch (r.below(6)) {
    case 0: return BigInt(r.pick([0, 1, -1])) & mask;
    case 1: return r.pick([1n << (bits - 1n), (1n << (bits - 1n)) - 1n]);
    case 2: return BigInt(r.below(2000) - 1000) & mask;
    default: return r.bits(Number(bits));
  }
}

/** 18 packed BCD digits and a sign byte (bits 0-71 digits, bit 79 sign). */
export function bcdBits(r: Random): bigint {
  let value = 0n;
  const digits = r.below(19);
  for (let i = 0; i < 18; i++) value |= BigInt(i < digits ? r.below(10) : 0) << BigInt(i * 4);
  return value | (r.chance(0.5) ? 1n << 79n : 0n);
}
