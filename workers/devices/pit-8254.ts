/**
 * The 8254 programmable interval timer as a pure state machine (Intel 8254 datasheet, 231164),
 * with the PC's system control port B (0x61) that gates counter 2 and reads back its OUT.
 *
 * No clock ticks are simulated: each counter remembers the tick at which its count element was
 * loaded, and its count and OUT are computed from the injected Clock when asked (1.193182 MHz,
 * the PC's timer input). `update()` reports OUT0 (wired to IRQ0) as it stood at the last call
 * and since, and `nextDeadline()` says when OUT0 next rises, so the owner can sleep until then.
 *
 * Modelled: modes 0-5 (6 and 7 alias 2 and 3), binary and BCD counting, LSB/MSB/both access with
 * its flip-flops, the counter latch command, read-back with status latch, null count, gate
 * semantics (level for modes 0, 2, 3, 4; rising edge triggers for 1, 5). Simplified: in mode 3 a
 * new count takes effect at the end of the current period rather than half-period, and the count
 * read in mode 3 steps by 2 as the datasheet describes but is not phase-exact for odd counts.
 * On the PC, counters 0 and 1 have their gates tied high; counter 2's gate is port B bit 0.
 *
 * What the guest controls and what bounds it: every write is a byte masked to its fields; a count
 * of 0 means the counter's full range; counts of 1 in modes 2 and 3 (illegal in the datasheet)
 * count as 2, so a period is never shorter than two ticks. The state is fixed per counter.
 */
import type { Clock } from "./clock";

/** The PC's timer input clock: 14.31818 MHz / 12 (IBM PC Technical Reference). */
export const PIT_HZ = 1_193_182;

/** Port B bits (IBM PC AT Technical Reference, "System Control Port B"). */
export const PORT_B_GATE2 = 0x01;
export const PORT_B_SPEAKER = 0x02;
export const PORT_B_REFRESH = 0x10;
export const PORT_B_OUT2 = 0x20;
/** The writable bits of port B: gate 2, speaker data, parity and channel check enables. */
const PORT_B_WRITABLE = 0x0f;
/** Refresh requests toggle bit 4 every 15.085 us (counter 1 programmed for DRAM refresh). */
const REFRESH_PERIOD_NS = 15_085;

/** What the timer drives: OUT0, the IRQ0 line. */
export interface Pit8254Wiring {
  /** Called when OUT0 changes level. A rise missed between two updates is reported low-then-high. */
  setOut0: (level: boolean) => void;
}

const enum Access { Latch = 0, Lsb = 1, Msb = 2, Word = 3 }

/** One counter: the count element's history and the access flip-flops. */
class Counter {
  mode = 0;
  access = Access.Word;
  bcd = false;
  gate: boolean;
  /** The count register (the last complete count written), 0 meaning the full range. */
  reload = 0;
  /** A count was written since the control word. */
  hasCount = false;
  /** The count element runs: loaded and, for the gated modes, with its gate high. */
  counting = false;
  /** Modes 1 and 5: a count waits for a gate trigger to be loaded. */
  armed = false;
  /** The tick at which the count element held `startValue`. */
  loadTick = 0;
  startValue = 0;
  /** Modes 0, 1, 4, 5: the tick of the terminal count. */
  terminalTick = Infinity;
  /** Modes 2, 3: the period in ticks, and a count waiting for the end of the current period. */
  period = 2;
  pendingReload: number | undefined;
  pendingTick = Infinity;
  /** Null count lasts until this tick (the count register is not yet in the count element). */
  nullUntil = Infinity;
  /**
   * OUT, the count and the ticks left to the terminal count while the count element is stopped.
   * OUT is undefined at power-up (datasheet); high, as modes 1-5 set it, so that Linux's first
   * control word (mode 2 for the tick) makes no interrupt edge.
   */
  idleOut = true;
  idleValue = 0;
  idleRemaining = Infinity;
  /** The next byte written (Access.Word) is the MSB; the LSB so far. */
  writeMsbNext = false;
  lsbWritten = 0;
  readMsbNext = false;
  latched: number[] = [];
  status: number | undefined;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  get modulus(): number {
    return this.bcd ? 10_000 : 0x10000;
  }

  private effective(count: number): number {
    return count === 0 ? this.modulus : count;
  }

  private periodOf(count: number): number {
    return Math.max(2, this.effective(count));
  }

  /** The control word for this counter (bits 5-0: RW, mode, BCD): resets it to the new mode. */
  program(access: Access, mode: number, bcd: boolean): void {
    this.access = access;
    this.mode = mode > 5 ? mode - 4 : mode; // modes 6 and 7 are 2 and 3 (datasheet, Figure 8)
    this.bcd = bcd;
    this.hasCount = false;
    this.counting = false;
    this.armed = false;
    this.pendingReload = undefined;
    this.terminalTick = Infinity;
    this.nullUntil = Infinity;
    this.idleOut = this.mode !== 0; // OUT goes low on the control word only in mode 0
    this.idleValue = 0;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latched = [];
    this.status = undefined;
  }

  /** Applies a count that waited for the end of a period (modes 2 and 3) once that end passed. */
  catchUp(tick: number): void {
    if (this.pendingReload === undefined || tick < this.pendingTick) return;
    this.loadTick = this.pendingTick;
    this.period = this.periodOf(this.pendingReload);
    this.pendingReload = undefined;
  }

  /** A complete count written by the guest (datasheet, "Mode Definitions"). */
  load(count: number, tick: number): void {
    this.reload = count;
    this.hasCount = true;
    switch (this.mode) {
      case 1:
      case 5:
        this.armed = true; // the next gate trigger loads it
        break;
      case 2:
      case 3:
        if (this.counting) {
          this.pendingReload = count;
          this.pendingTick = this.loadTick + (Math.floor((tick - this.loadTick) / this.period) + 1) * this.period;
          this.nullUntil = this.pendingTick;
          break;
        }
        this.period = this.periodOf(count);
        this.start(tick + 1, this.period, Infinity);
        break;
      default: // modes 0 and 4: loaded on the next clock, (re)starting the count
        this.start(tick + 1, this.effective(count), this.effective(count));
        break;
    }
  }

  /** Loads the count element at `loadTick`; it runs if the gate lets it. */
  private start(loadTick: number, value: number, toTerminal: number): void {
    this.nullUntil = loadTick;
    this.loadTick = loadTick;
    this.startValue = value;
    this.counting = true;
    this.terminalTick = loadTick + toTerminal;
    if (!this.gate) this.stop(loadTick, this.mode !== 0);
  }

  /** Stops the count element at `tick`, keeping its count and the ticks left to terminal count. */
  private stop(tick: number, out: boolean): void {
    this.idleValue = this.valueAt(tick);
    this.idleRemaining = this.terminalTick - tick;
    this.idleOut = out;
    this.counting = false;
  }

  /** Mode 0: the first byte of a two-byte count stops counting and drops OUT. */
  private stopForWrite(tick: number): void {
    if (this.mode === 0 && this.hasCount) this.stop(tick, false);
  }

  setGate(level: boolean, tick: number): void {
    if (level === this.gate) return;
    this.gate = level;
    this.catchUp(tick);
    switch (this.mode) {
      case 1:
      case 5:
        // A rising gate (re)triggers: the count register is loaded on the next clock.
        if (level && this.hasCount) {
          this.armed = false;
          this.counting = true;
          this.nullUntil = tick + 1;
          this.loadTick = tick + 1;
          this.startValue = this.effective(this.reload);
          this.terminalTick = this.loadTick + this.startValue;
        }
        break;
      case 2:
      case 3:
        // Low: OUT high at once and counting stops. High: the count is reloaded on the next clock.
        if (!level && this.counting) {
          this.stop(tick, true);
          this.pendingReload = undefined;
        } else if (level && this.hasCount) {
          this.period = this.periodOf(this.reload);
          this.loadTick = tick + 1;
          this.startValue = this.period;
          this.counting = true;
        }
        break;
      default:
        // Modes 0 and 4: the gate suspends counting; OUT keeps its level.
        if (!level && this.counting) {
          this.stop(tick, this.outAt(tick));
        } else if (level && this.hasCount) {
          this.counting = true;
          this.loadTick = tick;
          this.startValue = this.idleValue;
          this.terminalTick = tick + this.idleRemaining;
        }
        break;
    }
  }

  /** The count element at `tick`. */
  valueAt(tick: number): number {
    if (!this.counting) return this.idleValue % this.modulus;
    if (tick < this.loadTick) return this.startValue % this.modulus;
    const elapsed = tick - this.loadTick;
    switch (this.mode) {
      case 2:
        return (this.period - (elapsed % this.period)) % this.modulus;
      case 3: {
        const n = this.period;
        const high = Math.ceil(n / 2);
        const phase = elapsed % n;
        const inHigh = phase < high;
        const step = inHigh ? phase : phase - high;
        if (step === 0) return n % this.modulus;
        // Even counts step by 2; odd ones lose 1 on the high half's first clock, 3 on the low's.
        const first = n % 2 === 0 ? 2 : inHigh ? 1 : 3;
        return (n - first - 2 * (step - 1)) % this.modulus;
      }
      default: {
        const value = (this.startValue - elapsed) % this.modulus;
        return value < 0 ? value + this.modulus : value;
      }
    }
  }

  /** OUT at `tick`. */
  outAt(tick: number): boolean {
    if (!this.counting) return this.idleOut;
    switch (this.mode) {
      case 0:
        return tick >= this.terminalTick;
      case 1:
        return tick < this.loadTick || tick >= this.terminalTick;
      case 2:
        return tick < this.loadTick || (tick - this.loadTick) % this.period !== this.period - 1;
      case 3:
        return tick < this.loadTick || (tick - this.loadTick) % this.period < Math.ceil(this.period / 2);
      default: // 4, 5: low for the one clock of the terminal count
        return tick !== this.terminalTick;
    }
  }

  /** The first tick after `tick` at which OUT rises, or Infinity. */
  nextRise(tick: number): number {
    if (!this.counting) return Infinity;
    switch (this.mode) {
      case 0:
      case 1:
        return this.terminalTick > tick ? this.terminalTick : Infinity;
      case 2:
      case 3: {
        // Rises at loadTick + k * period, k >= 1; a pending count starts at such a rise too.
        const k = tick < this.loadTick ? 1 : Math.floor((tick - this.loadTick) / this.period) + 1;
        return this.loadTick + k * this.period;
      }
      default:
        return this.terminalTick + 1 > tick ? this.terminalTick + 1 : Infinity;
    }
  }

  nullCount(tick: number): boolean {
    return tick < this.nullUntil;
  }

  latchCount(tick: number): void {
    if (this.latched.length > 0) return; // a second latch before the read is ignored
    const value = this.encode(this.valueAt(tick));
    if (this.access === Access.Lsb) this.latched = [value & 0xff];
    else if (this.access === Access.Msb) this.latched = [value >> 8];
    else this.latched = this.readMsbNext ? [value >> 8, value & 0xff] : [value & 0xff, value >> 8];
  }

  latchStatus(tick: number): void {
    if (this.status !== undefined) return;
    this.status = (this.outAt(tick) ? 0x80 : 0) | (this.nullCount(tick) ? 0x40 : 0)
      | (this.access << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  readByte(tick: number): number {
    if (this.status !== undefined) {
      const status = this.status;
      this.status = undefined;
      return status;
    }
    const latched = this.latched.shift();
    if (latched !== undefined) {
      if (this.access === Access.Word) this.readMsbNext = !this.readMsbNext;
      return latched;
    }
    const value = this.encode(this.valueAt(tick));
    if (this.access === Access.Lsb) return value & 0xff;
    if (this.access === Access.Msb) return value >> 8;
    this.readMsbNext = !this.readMsbNext;
    return this.readMsbNext ? value & 0xff : value >> 8;
  }

  writeByte(byte: number, tick: number): void {
    switch (this.access) {
      case Access.Lsb:
        this.load(this.decode(byte), tick);
        break;
      case Access.Msb:
        this.load(this.decode(byte << 8), tick);
        break;
      default:
        if (!this.writeMsbNext) {
          this.lsbWritten = byte;
          this.writeMsbNext = true;
          this.stopForWrite(tick);
        } else {
          this.writeMsbNext = false;
          this.load(this.decode(this.lsbWritten | (byte << 8)), tick);
        }
        break;
    }
  }

  /** A count as read: four BCD digits in BCD mode. */
  private encode(value: number): number {
    if (!this.bcd) return value & 0xffff;
    let bcd = 0;
    for (let shift = 0; shift < 16; shift += 4, value = Math.floor(value / 10)) bcd |= (value % 10) << shift;
    return bcd;
  }

  /** A count as written; in BCD mode each nibble is a digit (a nibble above 9 counts as its value). */
  private decode(word: number): number {
    if (!this.bcd) return word;
    return ((word >> 12) & 15) * 1000 + ((word >> 8) & 15) * 100 + ((word >> 4) & 15) * 10 + (word & 15);
  }
}

/** The 8254 at offsets 0-3 (counters 0-2, control word) and port B. Data is one byte. */
export class Pit8254 {
  private readonly counters = [new Counter(true), new Counter(true), new Counter(false)] as const;
  private readonly origin: number;
  private portB = 0;
  private out0: boolean;
  /** The tick up to which OUT0 has been reported. */
  private reportedTick: number;

  constructor(private readonly clock: Clock, private readonly wiring: Pit8254Wiring) {
    this.origin = clock.now();
    this.reportedTick = 0;
    this.out0 = this.counters[0].outAt(0);
  }

  /** The current tick of the 1.193182 MHz input since this timer was made. */
  private tick(): number {
    return Math.floor(((this.clock.now() - this.origin) * PIT_HZ) / 1e9);
  }

  /** The clock time (ns) at which `tick` begins. */
  private timeOfTick(tick: number): number {
    const ns = this.origin + Math.ceil((tick * 1e9) / PIT_HZ);
    // Float rounding must never make the deadline fall before the tick it names.
    return Math.floor(((ns - this.origin) * PIT_HZ) / 1e9) < tick ? ns + 1 : ns;
  }

  /** Reads offset 0-2 (a counter); the control word register (3) reads as an open bus. */
  read(offset: number): number {
    if (offset > 2) return 0xff;
    const tick = this.tick();
    const counter = this.counters[offset];
    counter.catchUp(tick);
    return counter.readByte(tick);
  }

  /** Writes the byte `value` to offset 0-2 (a counter's count) or 3 (the control word). */
  write(offset: number, value: number): void {
    const tick = this.tick();
    this.update();
    const byte = value & 0xff;
    if (offset < 3) {
      this.counters[offset].catchUp(tick);
      this.counters[offset].writeByte(byte, tick);
    } else {
      this.writeControl(byte, tick);
    }
    this.update();
  }

  private writeControl(byte: number, tick: number): void {
    const select = byte >> 6;
    if (select === 3) {
      // Read-back (datasheet, "Read-Back Command"): bit 5 clear latches counts, bit 4 clear
      // latches status, bits 1-3 select the counters.
      for (let i = 0; i < 3; i++) {
        if (!(byte & (2 << i))) continue;
        const counter = this.counters[i];
        counter.catchUp(tick);
        if (!(byte & 0x20)) counter.latchCount(tick);
        if (!(byte & 0x10)) counter.latchStatus(tick);
      }
      return;
    }
    const counter = this.counters[select];
    counter.catchUp(tick);
    const access = ((byte >> 4) & 3) as Access;
    if (access === Access.Latch) counter.latchCount(tick);
    else counter.program(access, (byte >> 1) & 7, (byte & 1) !== 0);
  }

  /** Port 0x61: gate 2 and speaker enable as written, OUT2, and the refresh toggle. */
  readPortB(): number {
    const tick = this.tick();
    const counter2 = this.counters[2];
    counter2.catchUp(tick);
    const refresh = Math.floor((this.clock.now() - this.origin) / REFRESH_PERIOD_NS) & 1;
    return this.portB | (counter2.outAt(tick) ? PORT_B_OUT2 : 0) | (refresh ? PORT_B_REFRESH : 0);
  }

  writePortB(value: number): void {
    this.portB = value & PORT_B_WRITABLE;
    this.counters[2].setGate((value & PORT_B_GATE2) !== 0, this.tick());
  }

  /** Reports OUT0 up to now: its level, and a low-high pair for a rise that happened unseen. */
  update(): void {
    const tick = this.tick();
    const counter0 = this.counters[0];
    // Several rises since the last update make one edge: the interrupt controller latches one.
    const rose = counter0.nextRise(this.reportedTick) <= tick;
    counter0.catchUp(tick);
    this.reportedTick = tick;
    const level = counter0.outAt(tick);
    if (rose && this.out0) this.setOut0(false);
    if (rose) this.setOut0(true);
    this.setOut0(level);
  }

  private setOut0(level: boolean): void {
    if (level === this.out0) return;
    this.out0 = level;
    this.wiring.setOut0(level);
  }

  /** The clock time (ns) of the next rise of OUT0 after the last update(), or Infinity. */
  nextDeadline(): number {
    const rise = this.counters[0].nextRise(this.reportedTick);
    return rise === Infinity ? Infinity : this.timeOfTick(rise);
  }
}
