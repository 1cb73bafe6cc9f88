/**
 * An I/O APIC as a pure state machine: the Intel 82093AA's register set (datasheet 290566) with
 * the EOI register of the later ICH I/O APICs, so it reports version 0x20 (Linux's io_apic_eoi
 * writes the vector there instead of toggling the trigger mode). 24 pins, reached through the
 * IOREGSEL/IOWIN window of its MMIO page (0xFEC00000 on a PC; the board places it).
 *
 * Output is the message a real I/O APIC sends on the APIC bus: destination, destination mode,
 * delivery mode, vector and trigger mode, through a callback; the local APICs that accept it live
 * with the vCPUs. Delivery is immediate, so the delivery-status bit always reads 0.
 *
 * Pin inputs are logical (asserted or not): the board wires each line with the polarity its MP
 * and ACPI tables describe, and the guest programs the polarity bit to match, so the bit is kept
 * and read back but not applied. An edge pin sends one message per rising edge while unmasked
 * (an edge on a masked pin is lost, datasheet "Interrupt Mask"); a level pin sends while asserted,
 * unmasked and its remote IRR is clear, sets remote IRR, and sends again after the EOI for its
 * vector if still asserted.
 *
 * What the guest controls and what bounds it: only 32-bit accesses at 0x00, 0x10 and 0x40 act;
 * others read as all ones and write nothing. Register indices outside the table read as all ones.
 * Reserved delivery modes (3, 6) send nothing.
 */
import { openBus } from "./open-bus";

export const IOAPIC_PINS = 24;
/** Version register bits 7-0: 0x20, an I/O APIC with the EOI register. */
export const IOAPIC_VERSION = 0x20;
/** MMIO offsets within the I/O APIC's page. */
export const IOAPIC_REGSEL = 0x00;
export const IOAPIC_WINDOW = 0x10;
export const IOAPIC_EOI = 0x40;
/** The size of the MMIO region the I/O APIC decodes. */
export const IOAPIC_MMIO_SIZE = 0x1000;

/** Register indices behind IOREGSEL. */
export const IOAPIC_REG_ID = 0x00;
export const IOAPIC_REG_VERSION = 0x01;
export const IOAPIC_REG_ARBITRATION = 0x02;
export const IOAPIC_REG_TABLE = 0x10;

/** Redirection entry bits (low dword). */
export const REDIR_VECTOR = 0xff;
export const REDIR_DEST_LOGICAL = 1 << 11;
export const REDIR_DELIVERY_STATUS = 1 << 12;
export const REDIR_ACTIVE_LOW = 1 << 13;
export const REDIR_REMOTE_IRR = 1 << 14;
export const REDIR_LEVEL = 1 << 15;
export const REDIR_MASKED = 1 << 16;
/** What software writes in the low dword: all but delivery status and remote IRR. */
const REDIR_LOW_WRITABLE = 0x1afff;
/** The destination field: bits 63-56, the high dword's top byte. */
const REDIR_HIGH_WRITABLE = 0xff000000;
/** ID register bits 27-24. */
const ID_MASK = 0x0f000000;

/** Delivery modes (redirection entry bits 10-8). */
export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST_PRIORITY = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
export const DELIVERY_EXTINT = 7;
export type DeliveryMode = typeof DELIVERY_FIXED | typeof DELIVERY_LOWEST_PRIORITY | typeof DELIVERY_SMI
  | typeof DELIVERY_NMI | typeof DELIVERY_INIT | typeof DELIVERY_EXTINT;

/** An interrupt message as the I/O APIC sends it to the local APICs. */
export interface InterruptMessage {
  /** APIC ID (physical) or logical destination bits, 8 bits. */
  destination: number;
  destMode: "physical" | "logical";
  deliveryMode: DeliveryMode;
  vector: number;
  trigger: "edge" | "level";
}

/** What the I/O APIC drives: the APIC bus. */
export interface IoapicWiring {
  deliver: (message: InterruptMessage) => void;
}

const isDeliveryMode = (mode: number): mode is DeliveryMode => mode !== 3 && mode !== 6;

/** An 82093AA-style I/O APIC. MMIO offsets are within its page. */
export class Ioapic {
  private id: number;
  private select = 0;
  private readonly low = new Array<number>(IOAPIC_PINS).fill(REDIR_MASKED);
  private readonly high = new Array<number>(IOAPIC_PINS).fill(0);
  private asserted = 0;

  /** @param apicId the I/O APIC's ID at reset (its MP/ACPI tables name the same). */
  constructor(private readonly wiring: IoapicWiring, apicId = 0) {
    this.id = (apicId << 24) & ID_MASK;
  }

  /** Drives pin `pin` (0-23): asserted or not. */
  setPin(pin: number, asserted: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) throw new RangeError(`the I/O APIC has pins 0-23, not ${pin}`);
    const bit = 1 << pin;
    const rising = asserted && !(this.asserted & bit);
    if (asserted) this.asserted |= bit;
    else this.asserted &= ~bit;
    if (this.low[pin] & REDIR_LEVEL) this.service(pin);
    else if (rising && !(this.low[pin] & REDIR_MASKED)) this.send(pin);
  }

  /** An EOI for `vector` from a local APIC (or the EOI register): clears remote IRR of its level entries. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.low[pin];
      if ((low & REDIR_REMOTE_IRR) && (low & REDIR_VECTOR) === (vector & 0xff)) {
        this.low[pin] = low & ~REDIR_REMOTE_IRR;
        this.service(pin);
      }
    }
  }

  /** An MMIO read of `size` bytes at `offset`. */
  read(offset: number, size: number): number {
    if (size !== 4) return openBus(size);
    if (offset === IOAPIC_REGSEL) return this.select;
    if (offset === IOAPIC_WINDOW) return this.readRegister(this.select);
    return 0xffffffff;
  }

  /** An MMIO write of `size` bytes at `offset`. */
  write(offset: number, size: number, value: number): void {
    if (size !== 4) return;
    if (offset === IOAPIC_REGSEL) this.select = value & 0xff;
    else if (offset === IOAPIC_WINDOW) this.writeRegister(this.select, value >>> 0);
    else if (offset === IOAPIC_EOI) this.eoi(value & 0xff);
  }

  private readRegister(index: number): number {
    switch (index) {
      case IOAPIC_REG_ID:
        return this.id;
      case IOAPIC_REG_VERSION:
        return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
      case IOAPIC_REG_ARBITRATION:
        return this.id; // loaded from the ID whenever it is written (datasheet, IOAPICARB)
      default: {
        const pin = (index - IOAPIC_REG_TABLE) >> 1;
        if (index < IOAPIC_REG_TABLE || pin >= IOAPIC_PINS) return 0xffffffff;
        return (index & 1 ? this.high[pin] : this.low[pin]) >>> 0;
      }
    }
  }

  private writeRegister(index: number, value: number): void {
    if (index === IOAPIC_REG_ID) {
      this.id = value & ID_MASK;
      return;
    }
    const pin = (index - IOAPIC_REG_TABLE) >> 1;
    if (index < IOAPIC_REG_TABLE || pin >= IOAPIC_PINS) return;
    if (index & 1) {
      this.high[pin] = (value & REDIR_HIGH_WRITABLE) >>> 0;
      return;
    }
    let low = (this.low[pin] & ~REDIR_LOW_WRITABLE) | (value & REDIR_LOW_WRITABLE);
    // An edge entry has no remote IRR: older Linux clears a stuck one by switching to edge and back.
    if (!(low & REDIR_LEVEL)) low &= ~REDIR_REMOTE_IRR;
    this.low[pin] = low;
    this.service(pin);
  }

  /** Sends a level pin's interrupt if it is asserted, unmasked and not awaiting its EOI. */
  private service(pin: number): void {
    const low = this.low[pin];
    if (!(low & REDIR_LEVEL) || (low & (REDIR_MASKED | REDIR_REMOTE_IRR)) || !(this.asserted & (1 << pin))) return;
    if (this.send(pin)) this.low[pin] = low | REDIR_REMOTE_IRR;
  }

  /** Sends pin `pin`'s message as its entry describes; false for a reserved delivery mode. */
  private send(pin: number): boolean {
    const low = this.low[pin];
    const deliveryMode = (low >> 8) & 7;
    if (!isDeliveryMode(deliveryMode)) return false;
    this.wiring.deliver({
      destination: this.high[pin] >>> 24,
      destMode: low & REDIR_DEST_LOGICAL ? "logical" : "physical",
      deliveryMode,
      vector: low & REDIR_VECTOR,
      trigger: low & REDIR_LEVEL ? "level" : "edge",
    });
    return true;
  }
}
