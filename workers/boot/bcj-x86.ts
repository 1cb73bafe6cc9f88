/**
 * The x86 branch/call/jump filter's decoder (.xz filter 0x04, `xz --x86`), as the kernel's
 * payload is packed. The encoder turned the rel32 operands of CALL (E8) and JMP (E9) into
 * absolute addresses, which compress better; this turns them back. Which E8/E9 bytes were
 * converted depends on the bytes before them, so the decoder repeats the encoder's choice: a mask
 * remembers which of the last few bytes were E8/E9 and whether their operand's high byte looked
 * like an address (00 or FF), and an operand is converted only in the patterns where the encoder
 * did. Must match liblzma's x86 filter bit for bit; test/xz.test.ts checks it against `xz`.
 */

/** An operand's high byte that a near address has: 00 (forward) or FF (backward). */
const isAddressByte = (byte: number): boolean => byte === 0x00 || byte === 0xff;

/** For the mask's bits 1-3: whether an E8/E9 seen there still allows converting this one. */
const CONVERT_ALLOWED = [true, true, true, false, true, false, false, false];
/** For the mask's bits 1-3: which operand byte (from the top) a preceding E8/E9 may have changed. */
const OVERLAP_BYTE = [0, 1, 2, 2, 3, 3, 3, 3];

/**
 * Decodes `data[start, end)` in place: one whole xz block's output, whose first byte is at
 * stream position `startOffset` (the filter's start offset property, usually 0). The last four
 * bytes can hold no whole instruction and stay as they are, as at the end of a stream in liblzma.
 */
export function unfilterX86(data: Uint8Array, start: number, end: number, startOffset: number): void {
  let mask = 0;
  let previous = start - 5;
  let i = start;
  while (i + 5 <= end) {
    if ((data[i] & 0xfe) !== 0xe8) {
      i++;
      continue;
    }
    const gap = i - previous;
    previous = i;
    if (gap > 5) mask = 0;
    else for (let k = 0; k < gap; k++) mask = (mask & 0x77) << 1;

    const high = data[i + 4];
    const state = mask >>> 1;
    if (!isAddressByte(high) || state >= 0x10 || !CONVERT_ALLOWED[state & 7]) {
      i++;
      mask |= high === 0x00 || high === 0xff ? 0x11 : 0x01;
      continue;
    }
    const next = (startOffset + (i - start) + 5) >>> 0;
    let operand = ((high << 24) | (data[i + 3] << 16) | (data[i + 2] << 8) | data[i + 1]) >>> 0;
    let target = (operand - next) >>> 0;
    // Where an earlier E8/E9 overlapped this operand, the encoder converted again while the byte
    // it shared still looked like an address; undo each of those conversions too.
    while (mask !== 0) {
      const shift = 24 - OVERLAP_BYTE[state] * 8;
      if (!isAddressByte((target >>> shift) & 0xff)) break;
      operand = (target ^ (2 ** (shift + 8) - 1)) >>> 0;
      target = (operand - next) >>> 0;
    }
    // The high byte is only a sign extension of bit 24.
    data[i + 4] = target & 0x1000000 ? 0xff : 0x00;
    data[i + 3] = target >>> 16;
    data[i + 2] = target >>> 8;
    data[i + 1] = target;
    i += 5;
    mask = 0;
  }
}
