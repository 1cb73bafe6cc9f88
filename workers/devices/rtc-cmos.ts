/**
 * The PC's real-time clock and CMOS RAM, a Motorola MC146818A (datasheet, "MC146818A Real-Time
 * Clock Plus RAM"), at ports 0x70 (index, with the NMI-disable bit) and 0x71 (data).
 *
 * The time starts from the host's wall clock (UTC, as Linux expects of a PC RTC) and advances with
 * the injected Clock; nothing ticks between accesses: `update()` brings the flags up to now and
 * `nextDeadline()` says when the next enabled interrupt is due, so the owner can sleep until then.
 *
 * Modelled: time, calendar and alarm registers 0x00-0x09 in BCD or binary and 12- or 24-hour
 * form as register B selects; register A's UIP bit (high for the 244 us before each update), the
 * divider (time runs only with DV = 010; leaving reset puts the first update half a second later)
 * and the periodic rate; register B's SET bit (stops updates, clears UIE), interrupt enables and
 * formats; register C's flags, cleared by reading; register D's valid-RAM bit; IRQ8; 114 bytes of
 * CMOS RAM holding the PC's memory-size bytes and the century (0x32, kept with the time). Left out:
 * daylight saving (DSE is stored only) and the square-wave pin.
 *
 * What the guest controls and what bounds it: register writes are bytes; time fields are kept as
 * numbers and a field out of its range is normalised by the next update (a Date computation), so
 * nothing the guest writes grows the state or stops the clock. Catching up after a long sleep
 * checks the alarm for at most one day of missed seconds (a day holds every alarm pattern).
 */
import type { Clock } from "./clock";

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** The century, in the format register B selects (IBM PS/2 and ACPI FADT "CENTURY" convention). */
export const RTC_CENTURY = 0x32;

export const RTC_A_UIP = 0x80;
/** Divider bits 6-4 = 010: a 32.768 kHz time base, running. */
const A_DIVIDER_RUNNING = 0x20;
const A_DIVIDER_MASK = 0x70;
const A_RATE_MASK = 0x0f;
export const RTC_B_SET = 0x80;
export const RTC_B_PIE = 0x40;
export const RTC_B_AIE = 0x20;
export const RTC_B_UIE = 0x10;
export const RTC_B_BINARY = 0x04;
export const RTC_B_24H = 0x02;
export const RTC_C_IRQF = 0x80;
export const RTC_C_PF = 0x40;
export const RTC_C_AF = 0x20;
export const RTC_C_UF = 0x10;
const RTC_D_VRT = 0x80;
/** Port 0x70 bit 7 disables NMI (IBM PC AT Technical Reference, "CMOS RAM Address"). */
const INDEX_NMI_DISABLE = 0x80;

const NS_PER_SECOND = 1e9;
/** UIP rises 244 us (8 cycles of 32.768 kHz) before the update (datasheet, "Update Cycle"). */
const UIP_LEAD_NS = (8 / 32768) * NS_PER_SECOND;
/** Alarm bytes 0xC0-0xFF match any value (datasheet, "Alarm"). */
const ALARM_DONT_CARE = 0xc0;
const SECONDS_PER_DAY = 86_400;
const KIB = 1024;
const MIB = 1024 * KIB;

/** What the RTC needs at power-on. */
export interface RtcConfig {
  /** The wall-clock time to start from, in milliseconds since the Unix epoch (UTC). */
  wallClockMs: number;
  /** Guest RAM below 4 GiB, in bytes (for CMOS 0x15-0x18, 0x30-0x31, 0x34-0x35). */
  ramBelow4G: number;
  /** Guest RAM above 4 GiB, in bytes (for CMOS 0x5B-0x5D). */
  ramAbove4G: number;
}

/** What the RTC drives: IRQ8. */
export interface RtcWiring {
  /** Called when the interrupt output (register C's IRQF) changes level. */
  setIrq8: (level: boolean) => void;
}

/** A calendar time in plain numbers, as the time registers hold it. */
interface Calendar {
  second: number;
  minute: number;
  hour: number;
  dayOfWeek: number;
  day: number;
  month: number;
  year: number;
  century: number;
}

function calendarOf(unixSeconds: number): Calendar {
  const d = new Date(unixSeconds * 1000);
  const year = d.getUTCFullYear();
  return {
    second: d.getUTCSeconds(), minute: d.getUTCMinutes(), hour: d.getUTCHours(), dayOfWeek: d.getUTCDay() + 1,
    day: d.getUTCDate(), month: d.getUTCMonth() + 1, year: year % 100, century: Math.floor(year / 100),
  };
}

function secondsOf(c: Calendar): number {
  const d = new Date(0);
  d.setUTCFullYear(c.century * 100 + c.year, c.month - 1, c.day);
  d.setUTCHours(c.hour, c.minute, c.second, 0);
  return Math.floor(d.getTime() / 1000);
}

const toBcd = (value: number): number => ((Math.floor(value / 10) % 10) << 4) | (value % 10);
const fromBcd = (byte: number): number => (byte >> 4) * 10 + (byte & 15);

/** The CMOS memory-size bytes a PC BIOS leaves (QEMU's and SeaBIOS's layout), from the RAM sizes. */
function memorySizeBytes(ram: Uint8Array, config: RtcConfig): void {
  const { ramBelow4G, ramAbove4G } = config;
  if (!Number.isInteger(ramBelow4G) || ramBelow4G < 0 || ramBelow4G > 2 ** 32 || !Number.isInteger(ramAbove4G) || ramAbove4G < 0) {
    throw new RangeError(`RTC memory sizes must be whole byte counts (below 4 GiB at most 4 GiB), got ${ramBelow4G} and ${ramAbove4G}`);
  }
  const put16 = (at: number, value: number): void => {
    ram[at] = value & 0xff;
    ram[at + 1] = value >> 8;
  };
  put16(0x15, 640); // base memory in KiB
  const extendedKib = Math.min(0xffff, Math.max(0, Math.floor((ramBelow4G - MIB) / KIB)));
  put16(0x17, extendedKib);
  put16(0x30, extendedKib);
  put16(0x34, Math.min(0xffff, Math.max(0, Math.floor((ramBelow4G - 16 * MIB) / 65536))));
  const above4GUnits = Math.min(0xffffff, Math.floor(ramAbove4G / 65536));
  ram[0x5b] = above4GUnits & 0xff;
  ram[0x5c] = (above4GUnits >> 8) & 0xff;
  ram[0x5d] = above4GUnits >> 16;
}

/** The RTC and CMOS RAM at offsets 0 (index) and 1 (data). Data is one byte. */
export class RtcCmos {
  private readonly ram = new Uint8Array(128);
  private index = 0;
  private nmiMasked = false;
  private time: Calendar;
  /** Clock time at which `time` began; whole seconds later it advances (while running). */
  private anchorNs: number;
  /** Origin of the periodic interrupt's phase (reset with the divider). */
  private periodicOriginNs: number;
  /** Clock time up to which flags have been brought. */
  private lastNs: number;
  private flags = 0;
  private irq = false;

  constructor(private readonly clock: Clock, config: RtcConfig, private readonly wiring: RtcWiring) {
    if (!Number.isFinite(config.wallClockMs) || Math.abs(config.wallClockMs) > 8.64e15) {
      throw new RangeError(`RTC wall clock must be a Date's milliseconds, got ${config.wallClockMs}`);
    }
    const now = clock.now();
    const wallSeconds = Math.floor(config.wallClockMs / 1000);
    this.time = calendarOf(wallSeconds);
    this.anchorNs = now - (config.wallClockMs - wallSeconds * 1000) * 1e6;
    this.periodicOriginNs = now;
    this.lastNs = now;
    memorySizeBytes(this.ram, config);
    // As firmware leaves it: 32.768 kHz divider with 1024 Hz periodic rate; BCD, 24-hour.
    this.ram[RTC_REG_A] = A_DIVIDER_RUNNING | 0x06;
    this.ram[RTC_REG_B] = RTC_B_24H;
  }

  /** Port 0x70 bit 7: NMI is disabled while set. */
  get nmiDisabled(): boolean {
    return this.nmiMasked;
  }

  private get regA(): number {
    return this.ram[RTC_REG_A];
  }

  private get regB(): number {
    return this.ram[RTC_REG_B];
  }

  private get dividerRunning(): boolean {
    return (this.regA & A_DIVIDER_MASK) === A_DIVIDER_RUNNING;
  }

  /** Time advances: the divider runs and SET is clear. */
  private get running(): boolean {
    return this.dividerRunning && !(this.regB & RTC_B_SET);
  }

  /** Offset 0 reads as an open bus (the index port is write-only); offset 1 reads the indexed byte. */
  read(offset: number): number {
    if (offset === 0) return 0xff;
    this.update();
    const index = this.index;
    if (index === RTC_REG_A) return this.regA | (this.updateInProgress() ? RTC_A_UIP : 0);
    if (index === RTC_REG_C) {
      const flags = this.flags;
      this.flags = 0;
      this.updateIrq();
      return flags;
    }
    if (index === RTC_REG_D) return RTC_D_VRT;
    const field = this.timeField(index);
    if (field !== undefined) return this.encode(index, this.time[field]);
    return this.ram[index];
  }

  /** Offset 0 selects the register (bits 6-0) and NMI masking (bit 7); offset 1 writes it. */
  write(offset: number, value: number): void {
    const byte = value & 0xff;
    if (offset === 0) {
      this.index = byte & 0x7f;
      this.nmiMasked = (byte & INDEX_NMI_DISABLE) !== 0;
      return;
    }
    this.update();
    const index = this.index;
    switch (index) {
      case RTC_REG_A:
        this.writeControl(byte & ~RTC_A_UIP, this.regB);
        break;
      case RTC_REG_B:
        // Setting SET clears UIE (datasheet, register B "UIE").
        this.writeControl(this.regA, byte & RTC_B_SET ? byte & ~RTC_B_UIE : byte);
        break;
      case RTC_REG_C:
      case RTC_REG_D:
        break; // read-only
      default: {
        const field = this.timeField(index);
        if (field !== undefined) this.time[field] = this.decode(index, byte);
        else this.ram[index] = byte;
      }
    }
    this.updateIrq();
  }

  /** Brings the update-ended, alarm and periodic flags (and IRQ8) up to now. */
  update(): void {
    const now = this.clock.now();
    if (this.running) {
      const elapsed = Math.floor((now - this.anchorNs) / NS_PER_SECOND);
      if (elapsed > 0) this.advance(elapsed);
    }
    const period = this.periodicNs();
    if (period !== undefined) {
      const crossed = Math.floor((now - this.periodicOriginNs) / period) - Math.floor((this.lastNs - this.periodicOriginNs) / period);
      if (crossed > 0) this.flags |= RTC_C_PF;
    }
    this.lastNs = now;
    this.updateIrq();
  }

  /** The clock time (ns) of the next event that would raise IRQ8, or Infinity. */
  nextDeadline(): number {
    if (this.irq) return Infinity; // IRQ8 stays high until register C is read
    const b = this.regB;
    let deadline = Infinity;
    if ((b & (RTC_B_UIE | RTC_B_AIE)) && this.running) deadline = this.anchorNs + NS_PER_SECOND;
    const period = this.periodicNs();
    if ((b & RTC_B_PIE) && period !== undefined) {
      const next = this.periodicOriginNs + (Math.floor((this.lastNs - this.periodicOriginNs) / period) + 1) * period;
      deadline = Math.min(deadline, Math.ceil(next));
    }
    return deadline;
  }

  /** Moves the time `seconds` updates on, setting UF and, when a passed second matches, AF. */
  private advance(seconds: number): void {
    const start = secondsOf(this.time);
    for (let s = Math.max(1, seconds - SECONDS_PER_DAY + 1); s <= seconds && !(this.flags & RTC_C_AF); s++) {
      if (this.alarmMatches(calendarOf(start + s))) this.flags |= RTC_C_AF;
    }
    this.time = calendarOf(start + seconds);
    this.anchorNs += seconds * NS_PER_SECOND;
    this.flags |= RTC_C_UF;
  }

  private alarmMatches(c: Calendar): boolean {
    const matches = (alarmIndex: number, timeIndex: number, value: number): boolean => {
      const alarm = this.ram[alarmIndex];
      return alarm >= ALARM_DONT_CARE || alarm === this.encode(timeIndex, value);
    };
    return matches(RTC_SECONDS_ALARM, RTC_SECONDS, c.second) && matches(RTC_MINUTES_ALARM, RTC_MINUTES, c.minute)
      && matches(RTC_HOURS_ALARM, RTC_HOURS, c.hour);
  }

  /** The periodic interrupt's period, or undefined when the rate is 0 or the divider is stopped. */
  private periodicNs(): number | undefined {
    const rate = this.regA & A_RATE_MASK;
    if (rate === 0 || !this.dividerRunning) return undefined;
    // Rates 1 and 2 repeat 8 and 9 with a 32.768 kHz base (datasheet, Table 5): 65536 Hz >> rate.
    const shift = rate <= 2 ? rate + 7 : rate;
    return (NS_PER_SECOND * 2 ** shift) / 65536;
  }

  /** Writes registers A and B together, starting or stopping the time as SET and the divider say. */
  private writeControl(a: number, b: number): void {
    const now = this.clock.now();
    const wasRunning = this.running;
    const dividerWasRunning = this.dividerRunning;
    this.ram[RTC_REG_A] = a;
    this.ram[RTC_REG_B] = b;
    if (this.dividerRunning && !dividerWasRunning) this.periodicOriginNs = now;
    if (wasRunning === this.running) return;
    // Stopped: the fraction of the second is lost. Started: the first update comes a second
    // later, or half a second after the divider leaves reset (datasheet, register A "DV").
    if (this.running) this.anchorNs = dividerWasRunning ? now : now - NS_PER_SECOND / 2;
    else this.anchorNs = now;
  }

  /** UIP: high from 244 us before an update until it happens. */
  private updateInProgress(): boolean {
    if (!this.running) return false;
    const intoSecond = (this.clock.now() - this.anchorNs) % NS_PER_SECOND;
    return intoSecond >= NS_PER_SECOND - UIP_LEAD_NS;
  }

  private updateIrq(): void {
    const b = this.regB;
    const enabled = this.flags & (b & (RTC_B_PIE | RTC_B_AIE | RTC_B_UIE));
    this.flags = enabled ? this.flags | RTC_C_IRQF : this.flags & ~RTC_C_IRQF;
    const level = enabled !== 0;
    if (level === this.irq) return;
    this.irq = level;
    this.wiring.setIrq8(level);
  }

  private timeField(index: number): keyof Calendar | undefined {
    switch (index) {
      case RTC_SECONDS: return "second";
      case RTC_MINUTES: return "minute";
      case RTC_HOURS: return "hour";
      case RTC_DAY_OF_WEEK: return "dayOfWeek";
      case RTC_DAY_OF_MONTH: return "day";
      case RTC_MONTH: return "month";
      case RTC_YEAR: return "year";
      case RTC_CENTURY: return "century";
      default: return undefined;
    }
  }

  /** A time value as register `index` shows it: BCD or binary, and 12-hour with bit 7 = PM. */
  private encode(index: number, value: number): number {
    const binary = (this.regB & RTC_B_BINARY) !== 0;
    const form = (v: number): number => (binary ? v & 0xff : toBcd(v));
    if (index === RTC_HOURS && !(this.regB & RTC_B_24H)) {
      return form(value % 12 || 12) | (value >= 12 ? 0x80 : 0);
    }
    return form(value);
  }

  private decode(index: number, byte: number): number {
    const binary = (this.regB & RTC_B_BINARY) !== 0;
    const plain = (b: number): number => (binary ? b : fromBcd(b));
    if (index === RTC_HOURS && !(this.regB & RTC_B_24H)) {
      return (plain(byte & 0x7f) % 12) + (byte & 0x80 ? 12 : 0);
    }
    return plain(byte);
  }
}
