/**
 * The PC's pair of 8259A programmable interrupt controllers as a pure state machine (Intel 8259A
 * datasheet, 231468): the master at ports 0x20-0x21 with the slave cascaded on its IR2 (0xA0-0xA1),
 * plus the PIIX edge/level control registers (ELCR, ports 0x4D0-0x4D1) that choose the trigger
 * mode per line.
 *
 * Modelled: ICW1-ICW4, OCW1-OCW3, IRR/ISR/IMR, fixed and rotating priority, specific and
 * non-specific EOI, automatic EOI (with rotation), special mask mode, special fully nested mode,
 * poll mode, edge and level triggering (ICW1.LTIM for the whole chip, or ELCR per line), and the
 * spurious IR7 vector of an INTA cycle that finds no request: IRQ7 when a request was withdrawn
 * (its line fell) before INTA, IRQ15 when the slave has none left for the cascade. Left out:
 * 8080/8085 mode (vectors are always 8086-style), buffered mode (no effect on a virtual bus), and
 * ICW3's effect (the PC/AT cascade is wired: slave on master IR2).
 *
 * What the guest controls and what bounds it: every port write is a byte masked to its defined
 * bits; the state is a fixed set of bytes per chip. Offsets come from the board's port table.
 */

/** What the controller pair drives: the master's INT output to the CPU. */
export interface Pic8259Wiring {
  /** Called when the master's INT output changes level. */
  setInterrupt: (level: boolean) => void;
}

/** The line of the master that the slave's INT output drives (PC/AT wiring). */
export const PIC_CASCADE_IRQ = 2;

/** ICW1: bit 4 set on a write to the command port (offset 0). */
const ICW1_INIT = 0x10;
const ICW1_LTIM = 0x08; // level-triggered mode for every line
const ICW1_SNGL = 0x02; // single 8259, no ICW3
const ICW1_IC4 = 0x01; // ICW4 follows
/** OCW3 when bit 3 is set (and bit 4 clear); OCW2 when both are clear. */
const OCW3_SELECT = 0x08;
const OCW3_POLL = 0x04;
const OCW3_READ_REGISTER = 0x02; // bit 0 then chooses ISR (1) or IRR (0)
const OCW3_READ_ISR = 0x01;
const OCW3_SPECIAL_MASK_CHANGE = 0x40; // bit 5 then sets (1) or resets (0) special mask mode
const OCW3_SPECIAL_MASK = 0x20;
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;

/**
 * ELCR bits that must stay 0 (edge): IRQ0-2 on the master, IRQ8 and IRQ13 on the slave (Intel
 * PIIX3 datasheet, ELCR1/ELCR2 "reserved, must be 0").
 */
const ELCR_WRITABLE = [0xf8, 0xde];

/** Where an ICW sequence stands: waiting for ICW2, ICW3 or ICW4, or done. */
const enum Init { Done, Icw2, Icw3, Icw4 }

/** One 8259A. */
class Pic8259 {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Input levels of the eight lines. */
  lines = 0;
  /** Per-line level triggering from the ELCR (chip-wide LTIM is ORed in). */
  elcr = 0;
  vectorBase = 0;
  /** The line with the highest priority is (lowestPriority + 1) & 7; rotation moves it. */
  lowestPriority = 7;
  init = Init.Done;
  needIcw4 = false;
  single = false;
  levelTriggered = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  poll = false;
  readIsr = false;

  constructor(readonly isMaster: boolean) {}

  private levelLines(): number {
    return this.levelTriggered ? 0xff : this.elcr;
  }

  /**
   * Drives input line `line` (0-7). An edge line sets IRR on a rising edge, a level line whenever
   * it is high. In both modes a line that falls withdraws its request: the datasheet requires IR
   * to stay high until INTA, or the CPU gets the default IR7 ("Edge and Level Triggered Modes").
   */
  setLine(line: number, level: boolean): void {
    const bit = 1 << line;
    const rising = level && !(this.lines & bit);
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
    if (!level) this.irr &= ~bit;
    else if (rising || (this.levelLines() & bit)) this.irr |= bit;
  }

  /** Priority rank of the highest-priority bit of `bits` (0 = highest), or 8 when none. */
  private rank(bits: number): number {
    for (let rank = 0; rank < 8; rank++) {
      if (bits & (1 << ((this.lowestPriority + 1 + rank) & 7))) return rank;
    }
    return 8;
  }

  private lineOfRank(rank: number): number {
    return (this.lowestPriority + 1 + rank) & 7;
  }

  /** The line this chip would present to INTA now, or -1 (the chip's INT output is high iff >= 0). */
  pending(): number {
    const requests = this.irr & ~this.imr;
    const request = this.rank(requests);
    if (request === 8) return -1;
    // In special mask mode a masked in-service level inhibits nothing (datasheet, "Special Mask
    // Mode"); in special fully nested mode the master lets a slave interrupt nest in IR2's service.
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    if (this.isMaster && this.specialFullyNested) inService &= ~(1 << PIC_CASCADE_IRQ);
    return request < this.rank(inService) ? this.lineOfRank(request) : -1;
  }

  /** The INTA cycle (or a poll) for `line`: into service (unless AEOI), out of IRR if edge. */
  acknowledge(line: number): void {
    const bit = 1 << line;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPriority = line;
    } else {
      this.isr |= bit;
    }
    if (!(this.levelLines() & bit)) this.irr &= ~bit;
  }

  writeCommand(value: number): void {
    if (value & ICW1_INIT) {
      this.startInit(value);
    } else if (value & OCW3_SELECT) {
      if (value & OCW3_POLL) this.poll = true;
      if (value & OCW3_READ_REGISTER) this.readIsr = (value & OCW3_READ_ISR) !== 0;
      if (value & OCW3_SPECIAL_MASK_CHANGE) this.specialMask = (value & OCW3_SPECIAL_MASK) !== 0;
    } else {
      this.writeOcw2(value);
    }
  }

  /** ICW1 (datasheet, "Initialization Command Words"): clears IMR and ISR, IR7 lowest, reads IRR. */
  private startInit(value: number): void {
    this.init = Init.Icw2;
    this.needIcw4 = (value & ICW1_IC4) !== 0;
    this.single = (value & ICW1_SNGL) !== 0;
    this.levelTriggered = (value & ICW1_LTIM) !== 0;
    this.imr = 0;
    this.isr = 0;
    this.lowestPriority = 7;
    this.specialMask = false;
    this.poll = false;
    this.readIsr = false;
    // Without IC4 every ICW4 function is cleared.
    this.autoEoi = false;
    this.specialFullyNested = false;
    this.rotateOnAutoEoi = false;
    // The edge sense circuit is reset: an edge line must rise again to request.
    this.irr &= this.levelLines() & this.lines;
  }

  /** OCW2: bits 7-5 are R, SL, EOI; bits 2-0 name the level for the specific forms. */
  private writeOcw2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0: // rotate in automatic EOI mode (clear)
        this.rotateOnAutoEoi = false;
        break;
      case 4: // rotate in automatic EOI mode (set)
        this.rotateOnAutoEoi = true;
        break;
      case 1: // non-specific EOI: the highest-priority level in service
      case 5: { // rotate on non-specific EOI
        const rank = this.rank(this.isr);
        if (rank === 8) break;
        const line = this.lineOfRank(rank);
        this.isr &= ~(1 << line);
        if (value >> 5 === 5) this.lowestPriority = line;
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case 6: // set priority: `level` becomes the lowest
        this.lowestPriority = level;
        break;
      default: // 2: no operation
        break;
    }
  }

  writeData(value: number): void {
    switch (this.init) {
      case Init.Icw2:
        this.vectorBase = value & 0xf8;
        this.init = this.single ? (this.needIcw4 ? Init.Icw4 : Init.Done) : Init.Icw3;
        break;
      case Init.Icw3:
        // The cascade is wired (slave on IR2), so the slave mask and slave ID change nothing.
        this.init = this.needIcw4 ? Init.Icw4 : Init.Done;
        break;
      case Init.Icw4:
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.init = Init.Done;
        break;
      default: // OCW1
        this.imr = value;
        break;
    }
  }

  /** A read of the command port: IRR or ISR as OCW3 chose (a pending poll is served first). */
  readCommand(): number {
    return this.readIsr ? this.isr : this.irr;
  }
}

/** The master/slave pair with its ELCR, as the PC/AT wires it. IRQs are numbered 0-15. */
export class Pic8259Pair {
  private readonly chips = [new Pic8259(true), new Pic8259(false)] as const;
  private interrupt = false;

  constructor(private readonly wiring: Pic8259Wiring) {}

  /** Drives ISA IRQ line `irq` (0-15; IRQ2 is the cascade and has no input of its own). */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`the 8259 pair has IRQs 0-15, not ${irq}`);
    if (irq === PIC_CASCADE_IRQ) return;
    this.chips[irq >> 3].setLine(irq & 7, level);
    this.update();
  }

  /** Reads port `offset` (0 or 1) of `chip` (0 master, 1 slave). */
  read(chip: number, offset: number): number {
    const pic = this.chips[chip];
    if (pic.poll) return this.pollRead(chip);
    return offset === 0 ? pic.readCommand() : pic.imr;
  }

  /** Writes the byte `value` to port `offset` (0 or 1) of `chip` (0 master, 1 slave). */
  write(chip: number, offset: number, value: number): void {
    const pic = this.chips[chip];
    if (offset === 0) pic.writeCommand(value & 0xff);
    else pic.writeData(value & 0xff);
    this.update();
  }

  /** Reads the ELCR of `chip` (port 0x4D0 + chip). */
  readElcr(chip: number): number {
    return this.chips[chip].elcr;
  }

  /** Writes the ELCR of `chip`; lines that must be edge-triggered stay so. */
  writeElcr(chip: number, value: number): void {
    const pic = this.chips[chip];
    pic.elcr = value & ELCR_WRITABLE[chip];
    // A line switched to level takes its request from the current input level.
    pic.irr = (pic.irr & ~pic.elcr) | (pic.lines & pic.elcr);
    this.update();
  }

  /**
   * The INTA cycle: returns the vector the CPU reads and puts the interrupt in service. With no
   * request left (it went away, or was masked, since INT rose) the 8259A answers with its IR7
   * vector and sets no ISR bit: the spurious IRQ7, or IRQ15 when the slave has nothing.
   */
  acknowledge(): number {
    const [master, slave] = this.chips;
    let vector: number;
    const line = master.pending();
    if (line < 0) {
      vector = master.vectorBase | 7;
    } else {
      master.acknowledge(line);
      if (line === PIC_CASCADE_IRQ && !master.single) {
        // The slave resolves its own request in the second INTA pulse; with none it answers IR7.
        // (The master's IR2 follows the slave's INT at every step, so here it always has one.)
        const slaveLine = slave.pending();
        if (slaveLine >= 0) slave.acknowledge(slaveLine);
        vector = slave.vectorBase | (slaveLine >= 0 ? slaveLine : 7);
      } else {
        vector = master.vectorBase | line;
      }
    }
    this.update();
    return vector;
  }

  /** The master's INT output. */
  get interruptLevel(): boolean {
    return this.interrupt;
  }

  /** The registers of `chip`, for tests and diagnostics. */
  registers(chip: number): { irr: number; isr: number; imr: number; vectorBase: number } {
    const { irr, isr, imr, vectorBase } = this.chips[chip];
    return { irr, isr, imr, vectorBase };
  }

  /**
   * Poll mode (OCW3.P): the read is the acknowledge. Bit 7 says whether a request was pending,
   * bits 2-0 name the highest one (datasheet, "The Poll Command").
   */
  private pollRead(chip: number): number {
    const pic = this.chips[chip];
    pic.poll = false;
    const line = pic.pending();
    if (line < 0) return 0;
    pic.acknowledge(line);
    this.update();
    return 0x80 | line;
  }

  /** Carries the slave's INT to master IR2, then reports a change of the master's INT. */
  private update(): void {
    const [master, slave] = this.chips;
    master.setLine(PIC_CASCADE_IRQ, slave.pending() >= 0);
    const level = master.pending() >= 0;
    if (level === this.interrupt) return;
    this.interrupt = level;
    this.wiring.setInterrupt(level);
  }
}
