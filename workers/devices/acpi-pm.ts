/**
 * The ACPI fixed hardware of a PIIX4-class PC (ACPI 6.4 chapter 4.8), as a pure model: the PM1a
 * event block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT), the power management timer
 * and the reset register. The FADT (workers/boot/acpi.ts) tells the OS where each block sits; the
 * chipset decodes the ports and hands this model offsets within a block.
 *
 * Modelled: PM1_STS with write-1-to-clear status bits (TMR_STS, GBL_STS, PWRBTN_STS, SLPBTN_STS,
 * RTC_STS, WAK_STS; 4.8.3.1.1), PM1_EN (4.8.3.1.2), the SCI as a level (any status bit set whose
 * enable bit is set; 4.8.3.1), PM1_CNT (4.8.3.2.1) with SCI_EN owned by the hardware and reading 1
 * (no SMI_CMD: the machine is always in ACPI mode), SLP_TYP and the write-only SLP_EN: the soft-off
 * type powers off, any other type "wakes" at once by setting WAK_STS, as no other sleep state is
 * offered. The PM timer (4.8.3.3) counts at 3.579545 MHz from the injected Clock, 24 or 32 bits
 * wide (the FADT's TMR_VAL_EXT), and sets TMR_STS each time its top bit changes. The power button
 * is the fixed-feature one (4.8.2.2.1). The reset register is the PIIX4's reset control register
 * at 0xCF9 (82371AB datasheet, RC register): a 0-to-1 change of bit 2 resets the machine.
 * Left out: the PM1b and PM2 blocks, GPE blocks, the bus-master and global-lock bits' sources.
 *
 * Accesses: a block is read or written in bytes, words or dwords at any offset inside it; a byte
 * past a block's end reads 0xFF and writes nothing. Nothing ticks: `update()` brings the SCI up to
 * now and `nextDeadline()` names when TMR_STS next sets while the timer's SCI is enabled.
 */
import type { Clock } from "./clock";

/** The PM timer's rate (ACPI 4.8.3.3): the 14.31818 MHz colour-burst crystal divided by 4. */
export const PM_TIMER_HZ = 3_579_545;

/** Block sizes the FADT declares (PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN). */
export const PM1_EVENT_BLOCK_SIZE = 4;
export const PM1_CONTROL_BLOCK_SIZE = 2;
export const PM_TIMER_BLOCK_SIZE = 4;

/** PM1_STS and PM1_EN bits (tables 4.16 and 4.17). */
export const PM1_TMR = 1 << 0;
export const PM1_GBL = 1 << 5;
export const PM1_PWRBTN = 1 << 8;
export const PM1_SLPBTN = 1 << 9;
export const PM1_RTC = 1 << 10;
export const PM1_STS_WAK = 1 << 15;
/** Status bits this model can set or the OS may clear; the events among them that raise the SCI. */
const PM1_STS_BITS = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | PM1_STS_WAK;
const PM1_EN_BITS = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC;

/** PM1_CNT bits (table 4.18). */
export const PM1_CNT_SCI_EN = 1 << 0;
const PM1_CNT_BM_RLD = 1 << 1;
const PM1_CNT_SLP_TYP_SHIFT = 10;
const PM1_CNT_SLP_TYP = 0b111 << PM1_CNT_SLP_TYP_SHIFT;
export const PM1_CNT_SLP_EN = 1 << 13;

/** The PIIX4 reset control register's bits: 1 selects a hard reset, a 0-to-1 change of 2 resets. */
const RCR_SYSTEM_RESET = 1 << 1;
export const RCR_RESET_CPU = 1 << 2;

/** What the board tells the model, matching what its FADT and DSDT say. */
export interface AcpiPmConfig {
  /** The FADT's TMR_VAL_EXT: a 32-bit timer, else 24-bit. */
  timer32: boolean;
  /** SLP_TYP of soft-off, the first value of the DSDT's \_S5 package. */
  softOffSleepType: number;
}

/** What the PM hardware drives. */
export interface AcpiPmWiring {
  /** The SCI line (level, active high). */
  setSci: (level: boolean) => void;
  /** The OS entered S5: the machine turns off. */
  powerOff: () => void;
  /** The reset register was written: the machine resets. */
  reset: () => void;
}

export class AcpiPm {
  private readonly origin: number;
  private readonly timerBits: number;
  /** Status bits other than TMR_STS (which is computed from the timer). */
  private status = 0;
  private enable = 0;
  private control = PM1_CNT_SCI_EN;
  /** The timer tick at which TMR_STS was last cleared; it is set once the top bit changes after it. */
  private timerStatusClearedAt = 0;
  private sci = false;
  private resetControl = 0;

  constructor(private readonly clock: Clock, private readonly config: AcpiPmConfig, private readonly wiring: AcpiPmWiring) {
    this.origin = clock.now();
    this.timerBits = config.timer32 ? 32 : 24;
  }

  /** Reads the PM1a event block: PM1_STS at offset 0, PM1_EN at 2. */
  readEvent(offset: number, size: number): number {
    return slice(this.pm1Status() | (this.enable << 16), PM1_EVENT_BLOCK_SIZE, offset, size);
  }

  /** Writes the PM1a event block: 1s clear PM1_STS bits; PM1_EN takes its defined bits. */
  writeEvent(offset: number, size: number, value: number): void {
    const { bits, mask } = place(PM1_EVENT_BLOCK_SIZE, offset, size, value);
    const clear = bits & mask & PM1_STS_BITS;
    if (clear & PM1_TMR) this.timerStatusClearedAt = this.tick();
    this.status &= ~clear;
    const enableMask = (mask >>> 16) & PM1_EN_BITS;
    this.enable = (this.enable & ~enableMask) | ((bits >>> 16) & enableMask);
    this.updateSci();
  }

  /** Reads PM1_CNT: SLP_EN reads 0. */
  readControl(offset: number, size: number): number {
    return slice(this.control, PM1_CONTROL_BLOCK_SIZE, offset, size);
  }

  /** Writes PM1_CNT; SLP_EN set enters the sleep state SLP_TYP names (4.8.3.2.1, 16.1.3.1). */
  writeControl(offset: number, size: number, value: number): void {
    const { bits, mask } = place(PM1_CONTROL_BLOCK_SIZE, offset, size, value);
    const writable = mask & (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP);
    this.control = (this.control & ~writable) | (bits & writable);
    if (!(bits & mask & PM1_CNT_SLP_EN)) return;
    const sleepType = (this.control & PM1_CNT_SLP_TYP) >>> PM1_CNT_SLP_TYP_SHIFT;
    if (sleepType === this.config.softOffSleepType) {
      this.wiring.powerOff();
    } else {
      this.status |= PM1_STS_WAK;
      this.updateSci();
    }
  }

  /** Reads PM_TMR: the count in bits 23:0 (bits 31:24 zero) or 31:0. Writes do nothing. */
  readTimer(offset: number, size: number): number {
    return slice(this.tick() % 2 ** this.timerBits, PM_TIMER_BLOCK_SIZE, offset, size);
  }

  /** Reads the reset control register. */
  readResetControl(): number {
    return this.resetControl;
  }

  /** Writes the reset control register: bit 2 going from 0 to 1 resets the machine. */
  writeResetControl(byte: number): void {
    const rising = byte & ~this.resetControl & RCR_RESET_CPU;
    this.resetControl = byte & (RCR_SYSTEM_RESET | RCR_RESET_CPU);
    if (rising) this.wiring.reset();
  }

  /** The fixed power button was pressed (4.8.2.2.1): PWRBTN_STS sets. */
  pressPowerButton(): void {
    this.status |= PM1_PWRBTN;
    this.updateSci();
  }

  /** Brings TMR_STS and the SCI up to now. */
  update(): void {
    this.updateSci();
  }

  /** The clock time (ns) at which TMR_STS next raises the SCI, or Infinity. */
  nextDeadline(): number {
    if (!(this.enable & PM1_TMR) || this.timerStatus()) return Infinity;
    const half = 2 ** (this.timerBits - 1);
    return this.timeOfTick((Math.floor(this.timerStatusClearedAt / half) + 1) * half);
  }

  /** The SCI's level. */
  get sciLevel(): boolean {
    return this.sci;
  }

  private pm1Status(): number {
    return this.status | (this.timerStatus() ? PM1_TMR : 0);
  }

  /** TMR_STS: the timer's top bit changed since the status was last cleared. */
  private timerStatus(): boolean {
    const half = 2 ** (this.timerBits - 1);
    return Math.floor(this.tick() / half) !== Math.floor(this.timerStatusClearedAt / half);
  }

  private updateSci(): void {
    const level = (this.pm1Status() & this.enable) !== 0;
    if (level === this.sci) return;
    this.sci = level;
    this.wiring.setSci(level);
  }

  /** Ticks of the 3.579545 MHz clock since the model was made. */
  private tick(): number {
    return Math.floor(((this.clock.now() - this.origin) * PM_TIMER_HZ) / 1e9);
  }

  /** The clock time (ns) at which `tick` begins. */
  private timeOfTick(tick: number): number {
    const ns = this.origin + Math.ceil((tick * 1e9) / PM_TIMER_HZ);
    // Float rounding must never make the deadline fall before the tick it names.
    return Math.floor(((ns - this.origin) * PM_TIMER_HZ) / 1e9) < tick ? ns + 1 : ns;
  }
}

/** `size` bytes at `offset` of a little-endian block value; bytes past the block read 0xFF. */
function slice(block: number, blockSize: number, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) {
    const at = offset + i;
    value = value * 256 + (at < blockSize ? Math.floor(block / 2 ** (8 * at)) & 0xff : 0xff);
  }
  return value;
}

/** A write of `size` bytes at `offset` as block-aligned bits and the mask of bytes it covers. */
function place(blockSize: number, offset: number, size: number, value: number): { bits: number; mask: number } {
  let bits = 0;
  let mask = 0;
  for (let i = 0; i < size && offset + i < blockSize; i++) {
    const shift = 8 * (offset + i);
    bits |= ((value >>> (8 * i)) & 0xff) << shift;
    mask |= 0xff << shift;
  }
  return { bits: bits >>> 0, mask: mask >>> 0 };
}
