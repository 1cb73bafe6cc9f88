/**
 * What a read nobody answers returns on a PC: the bus floats high, so every byte reads 0xFF. The
 * low 32 bits of an access of `size` bytes (an 8-byte access's high half is all ones as well).
 */
export function openBus(size: number): number {
  return size >= 4 ? 0xffffffff : 2 ** (size * 8) - 1;
}
