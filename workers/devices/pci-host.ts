/**
 * The PCI host bridge's configuration access, mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2): CONFIG_ADDRESS at 0xCF8 (dword only) and CONFIG_DATA at 0xCFC-0xCFF (byte, word or
 * dword at any offset that stays in the dword), over bus 0. Each function is a PciConfigSpace:
 * 256 bytes with per-bit masks of what software may write and what it clears by writing 1.
 * The host bridge 00:00.0 identifies as an Intel 440FX (82441FX PMC datasheet, 290549).
 *
 * What the guest controls and what bounds it: the address register keeps its defined bits; an
 * access to an absent function, another bus, or with the enable bit clear reads all ones and
 * writes nothing; byte and word accesses to 0xCF8-0xCFB are not configuration cycles and do the
 * same. Functions are added by the board, never by the guest.
 */
import { openBus } from "./open-bus";

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09; // then subclass 0x0A and base class 0x0B
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;

/** CONFIG_ADDRESS: enable bit 31, bus 23-16, device 15-11, function 10-8, register 7-2. */
const ADDRESS_ENABLE = 0x80000000;
const ADDRESS_WRITABLE = 0x80fffffc;
export const PCI_DEVICES = 32;
export const PCI_FUNCTIONS = 8;
const CONFIG_SIZE = 256;

/** What identifies a function in its header. */
export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  revision: number;
  /** Base class, subclass and programming interface, as 0xBBSSPP. */
  classCode: number;
  /** Header type (bits 6-0) with bit 7 set for a multi-function device. */
  headerType: number;
}

/** One function's 256-byte configuration space. The device side sets values; the guest side is masked. */
export class PciConfigSpace {
  private readonly bytes = new Uint8Array(CONFIG_SIZE);
  private readonly writable = new Uint8Array(CONFIG_SIZE);
  private readonly writeOneToClear = new Uint8Array(CONFIG_SIZE);

  constructor(identity: PciIdentity) {
    this.set(PCI_VENDOR_ID, 2, identity.vendorId);
    this.set(PCI_DEVICE_ID, 2, identity.deviceId);
    this.set(PCI_REVISION_ID, 1, identity.revision);
    this.set(PCI_CLASS_PROG, 3, identity.classCode);
    this.set(PCI_HEADER_TYPE, 1, identity.headerType);
  }

  /** Device side: stores `value` (little-endian, `size` bytes at `offset`), whatever the masks. */
  set(offset: number, size: number, value: number): void {
    checkRange(offset, size);
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Device side: the value at `offset`. */
  get(offset: number, size: number): number {
    checkRange(offset, size);
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.bytes[offset + i];
    return value;
  }

  /** Lets the guest write the `mask` bits of the field at `offset`. */
  allowWrite(offset: number, size: number, mask: number): void {
    checkRange(offset, size);
    for (let i = 0; i < size; i++) this.writable[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Makes the `mask` bits of the field at `offset` cleared by writing 1 (status bits). */
  allowWriteOneToClear(offset: number, size: number, mask: number): void {
    checkRange(offset, size);
    for (let i = 0; i < size; i++) this.writeOneToClear[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Guest read: bytes past the end of the space read all ones. */
  read(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + (offset + i < CONFIG_SIZE ? this.bytes[offset + i] : 0xff);
    return value;
  }

  /** Guest write: only writable bits change; write-one-to-clear bits clear where 1 is written. */
  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < CONFIG_SIZE; i++) {
      const at = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const kept = this.bytes[at] & ~this.writable[at] & ~(byte & this.writeOneToClear[at]);
      this.bytes[at] = kept | (byte & this.writable[at]);
    }
  }
}

function checkRange(offset: number, size: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(size) || size < 1 || size > 4 || offset < 0 || offset + size > CONFIG_SIZE) {
    throw new RangeError(`no ${size}-byte configuration field at 0x${offset.toString(16)}`);
  }
}

/** The Intel 440FX host bridge as function 00:00.0 (82441FX datasheet, "PCI Configuration Registers"). */
export function i440fxHostBridge(): PciConfigSpace {
  const space = new PciConfigSpace({ vendorId: 0x8086, deviceId: 0x1237, revision: 0x02, classCode: 0x060000, headerType: 0x00 });
  space.set(PCI_COMMAND, 2, 0x0006); // memory and bus master, hard-wired on
  space.set(PCI_STATUS, 2, 0x0280); // fast back-to-back, medium DEVSEL
  space.allowWriteOneToClear(PCI_STATUS, 2, 0xf900); // error bits
  space.allowWrite(PCI_LATENCY_TIMER, 1, 0xf8);
  for (let pam = 0x59; pam <= 0x5f; pam++) space.allowWrite(pam, 1, pam === 0x59 ? 0x30 : 0x33); // PAM0-6
  space.allowWrite(0x72, 1, 0x78); // SMRAM control (no SMM here: kept, not acted on)
  return space;
}

/** Configuration mechanism #1 at offsets 0-7 of the 0xCF8-0xCFF range, serving bus 0. */
export class PciHost {
  private address = 0;
  private readonly functions = new Map<number, PciConfigSpace>();

  constructor() {
    this.addFunction(0, 0, i440fxHostBridge());
  }

  /** Places `space` at device `device` (0-31), function `fn` (0-7) of bus 0. */
  addFunction(device: number, fn: number, space: PciConfigSpace): void {
    if (!Number.isInteger(device) || device < 0 || device >= PCI_DEVICES || !Number.isInteger(fn) || fn < 0 || fn >= PCI_FUNCTIONS) {
      throw new RangeError(`no PCI function ${device}.${fn} on a bus`);
    }
    const devfn = (device << 3) | fn;
    if (this.functions.has(devfn)) throw new RangeError(`PCI function 00:${device}.${fn} is taken`);
    this.functions.set(devfn, space);
  }

  /** A read of `size` bytes at `offset` (0 = 0xCF8). */
  read(offset: number, size: number): number {
    if (offset < 4) return offset === 0 && size === 4 ? this.address : openBus(size);
    const target = this.target();
    return target ? target.read((this.address & 0xfc) + offset - 4, size) : openBus(size);
  }

  /** A write of `size` bytes at `offset` (0 = 0xCF8). */
  write(offset: number, size: number, value: number): void {
    if (offset < 4) {
      if (offset === 0 && size === 4) this.address = (value & ADDRESS_WRITABLE) >>> 0;
      return;
    }
    this.target()?.write((this.address & 0xfc) + offset - 4, size, value);
  }

  /** The function CONFIG_ADDRESS selects, if enabled, on bus 0 and present. */
  private target(): PciConfigSpace | undefined {
    const address = this.address;
    if (!(address & ADDRESS_ENABLE) || ((address >> 16) & 0xff) !== 0) return undefined;
    return this.functions.get((address >> 8) & 0xff);
  }
}
