/**
 * A 16550A UART as a pure state machine (register map and bits from the National/TI PC16550D
 * datasheet's register descriptions): eight byte registers at offsets 0-7,
 * DLAB-switched divisor latch, 16-byte receive FIFO with trigger levels, IIR priorities, THRE
 * interrupt, loopback with modem-status feedback, scratch register.
 *
 * Emulated without time: a byte written to THR leaves at once (THR and the transmitter are
 * always empty, so LSR.THRE and LSR.TEMT stay set and there is no transmit FIFO), and a receive
 * FIFO holding fewer bytes than the trigger level reports the character timeout at once instead
 * of after four character times. The divisor, word length, parity and stop bits are stored and
 * read back but change nothing. Left out: parity/framing errors and break (a virtual line has
 * none; LSR bits 2-4 and 7 read 0), DMA mode (FCR bit 3 is ignored), and the PC board's gating
 * of the interrupt line by MCR.OUT2 (the line follows the chip's INTR pin). Outside loopback the
 * modem inputs are those of an attached, ready terminal: CTS, DSR and DCD asserted, RI not.
 *
 * What the guest controls and what bounds it: every register write is masked to its defined
 * bits; received bytes land in a FIFO of at most 16 bytes (1 with FIFOs off), and a byte that
 * finds it full is dropped (with FIFOs off, replaces the unread one) and sets LSR.OE, so no
 * guest or host behaviour grows the state.
 * Transmission costs one callback per THR write; the caller paces the guest, not this model.
 */

/** Register offsets (with LCR.DLAB = 0 unless noted). */
export const UART_RBR = 0; // read: receiver buffer
export const UART_THR = 0; // write: transmitter holding
export const UART_DLL = 0; // DLAB = 1: divisor latch, low byte
export const UART_IER = 1; // interrupt enable
export const UART_DLM = 1; // DLAB = 1: divisor latch, high byte
export const UART_IIR = 2; // read: interrupt identification
export const UART_FCR = 2; // write: FIFO control
export const UART_LCR = 3; // line control
export const UART_MCR = 4; // modem control
export const UART_LSR = 5; // line status
export const UART_MSR = 6; // modem status
export const UART_SCR = 7; // scratch
/** Number of registers, the size of the port range a board gives the UART. */
export const UART_REGISTER_COUNT = 8;

export const UART_IER_ERBFI = 0x01; // received data available
export const UART_IER_ETBEI = 0x02; // transmitter holding register empty
export const UART_IER_ELSI = 0x04; // receiver line status
export const UART_IER_EDSSI = 0x08; // modem status
const IER_MASK = 0x0f;

export const UART_IIR_NO_INT = 0x01; // bit 0 is 0 while an interrupt is pending
export const UART_IIR_MSI = 0x00; // modem status (lowest priority)
export const UART_IIR_THRI = 0x02; // THR empty
export const UART_IIR_RDI = 0x04; // received data at or above the trigger level
export const UART_IIR_RLSI = 0x06; // receiver line status (highest priority)
export const UART_IIR_CTI = 0x0c; // character timeout: data below the trigger level
export const UART_IIR_FIFOS = 0xc0; // both set while FIFOs are enabled (16550A)

export const UART_FCR_ENABLE = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;
const FCR_TRIGGER_SHIFT = 6;
const TRIGGER_LEVELS = [1, 4, 8, 14];

export const UART_LCR_DLAB = 0x80;

export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT1 = 0x04;
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;

export const UART_LSR_DR = 0x01; // data ready
export const UART_LSR_OE = 0x02; // overrun error
export const UART_LSR_THRE = 0x20; // THR empty
export const UART_LSR_TEMT = 0x40; // THR and transmitter shift register empty

export const UART_MSR_DCTS = 0x01;
export const UART_MSR_DDSR = 0x02;
export const UART_MSR_TERI = 0x04; // RI went from on to off
export const UART_MSR_DDCD = 0x08;
export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_RI = 0x40;
export const UART_MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;
/** Modem inputs outside loopback: a terminal that is present and ready. */
const MSR_ATTACHED = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;

/** Bytes the receive FIFO holds when FIFOs are enabled. */
export const UART_FIFO_SIZE = 16;

/** Everything a UART remembers; what save() returns and restore() takes. */
export interface Uart16550State {
  ier: number;
  /** Last value written to FCR, masked to the bits that stay in effect (enable, trigger). */
  fcr: number;
  lcr: number;
  mcr: number;
  /** LSR.OE, the only error bit a virtual line can set. */
  overrun: boolean;
  /** MSR: modem inputs in bits 4-7, deltas accumulated since the last MSR read in bits 0-3. */
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  /** The THR-empty interrupt is pending (set when THR empties, cleared by IIR read or THR write). */
  thrIpending: boolean;
  /** Received bytes, oldest first (at most UART_FIFO_SIZE, or 1 with FIFOs off). */
  rxFifo: number[];
  /** The receiver buffer: the last byte taken from the FIFO, read again when it is empty. */
  rbr: number;
}

/** What the UART drives: the serial line out and its interrupt line. */
export interface Uart16550Wiring {
  /** Called with each byte the guest transmits (not in loopback, where it is received instead). */
  transmit: (byte: number) => void;
  /** Called when the interrupt line changes level. */
  setInterrupt: (level: boolean) => void;
}

const initialState = (): Uart16550State => ({
  ier: 0, fcr: 0, lcr: 0, mcr: 0, overrun: false, msr: MSR_ATTACHED, scr: 0,
  // Divisor 12 is 9600 baud from the PC's 1.8432 MHz clock, as firmware usually leaves it.
  dll: 12, dlm: 0,
  thrIpending: false, rxFifo: [], rbr: 0,
});

/** One 16550A. Offsets are 0-7 within the UART's port range; data is one byte. */
export class Uart16550 {
  private s: Uart16550State = initialState();
  private interrupt = false;

  constructor(private readonly wiring: Uart16550Wiring) {}

  private get fifoEnabled(): boolean {
    return (this.s.fcr & UART_FCR_ENABLE) !== 0;
  }

  private get loopback(): boolean {
    return (this.s.mcr & UART_MCR_LOOP) !== 0;
  }

  private get dlab(): boolean {
    return (this.s.lcr & UART_LCR_DLAB) !== 0;
  }

  private get capacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  /** Free places in the receive FIFO: how many bytes receive() can take without an overrun. */
  rxRoom(): number {
    return this.capacity - this.s.rxFifo.length;
  }

  /** Reads the register at `offset` (0-7), with its side effects (FIFO pop, flag clearing). */
  read(offset: number): number {
    const s = this.s;
    switch (checkOffset(offset)) {
      case UART_RBR: {
        if (this.dlab) return s.dll;
        const byte = s.rxFifo.shift();
        if (byte !== undefined) s.rbr = byte;
        this.update();
        return s.rbr;
      }
      case UART_IER:
        return this.dlab ? s.dlm : s.ier;
      case UART_IIR: {
        const iir = this.iir();
        // Reading IIR while it names the THR-empty interrupt is what acknowledges it.
        if (iir === UART_IIR_THRI) {
          s.thrIpending = false;
          this.update();
        }
        return iir | (this.fifoEnabled ? UART_IIR_FIFOS : 0);
      }
      case UART_LCR:
        return s.lcr;
      case UART_MCR:
        return s.mcr;
      case UART_LSR: {
        const lsr = this.lsr();
        s.overrun = false;
        this.update();
        return lsr;
      }
      case UART_MSR: {
        const msr = s.msr;
        s.msr &= ~MSR_DELTAS;
        this.update();
        return msr;
      }
      default:
        return s.scr;
    }
  }

  /**
   * What reading LSR or MSR returns while that read changes nothing (no overrun to clear, no
   * modem-status delta to clear); undefined otherwise, and for the other registers.
   */
  peekStatus(offset: number): number | undefined {
    const s = this.s;
    if (offset === UART_LSR) return s.overrun ? undefined : this.lsr();
    if (offset === UART_MSR) return s.msr & MSR_DELTAS ? undefined : s.msr;
    return undefined;
  }

  /**
   * Whether a write to `offset` can change LSR, MSR or what this answers for any offset: FCR (it
   * may empty the receive FIFO), MCR (loopback, the modem inputs), and THR in loopback (the byte
   * is received). A write that only transmits or sets IER, LCR or SCR changes none of them.
   */
  writeChangesStatus(offset: number): boolean {
    return offset === UART_FCR || offset === UART_MCR || (offset === UART_THR && this.loopback);
  }

  /** Writes the low byte of `value` to the register at `offset` (0-7). LSR and MSR ignore writes. */
  write(offset: number, value: number): void {
    const s = this.s;
    const byte = value & 0xff;
    switch (checkOffset(offset)) {
      case UART_THR:
        if (this.dlab) {
          s.dll = byte;
          return;
        }
        // The write acknowledges a THRE interrupt (the line drops, giving an edge-triggered
        // controller a fresh edge); the byte leaves at once, so THR is empty again and the
        // interrupt is raised anew.
        s.thrIpending = false;
        this.update();
        if (this.loopback) this.receiveByte(byte);
        else this.wiring.transmit(byte);
        s.thrIpending = true;
        break;
      case UART_IER: {
        if (this.dlab) {
          s.dlm = byte;
          return;
        }
        const enabled = byte & ~s.ier;
        s.ier = byte & IER_MASK;
        // Enabling ETBEI while THR is empty (always, here) interrupts at once; drivers rely on it.
        if (enabled & UART_IER_ETBEI) s.thrIpending = true;
        break;
      }
      case UART_FCR: {
        const enable = byte & UART_FCR_ENABLE;
        // Changing the enable bit clears both FIFOs; with it clear, the other bits are not taken.
        if (enable !== (s.fcr & UART_FCR_ENABLE) || (byte & UART_FCR_CLEAR_RCVR)) s.rxFifo = [];
        s.fcr = enable ? byte & (UART_FCR_ENABLE | (3 << FCR_TRIGGER_SHIFT)) : 0;
        break;
      }
      case UART_LCR:
        s.lcr = byte;
        return;
      case UART_MCR:
        s.mcr = byte & MCR_MASK;
        this.setModemInputs(this.loopback ? loopedModemInputs(s.mcr) : MSR_ATTACHED);
        break;
      case UART_SCR:
        s.scr = byte;
        return;
      default:
        return;
    }
    this.update();
  }

  /**
   * Bytes arriving on the serial line, in order. Each one that finds the FIFO full is lost and
   * sets LSR.OE (with FIFOs off it replaces the unread byte, as on a 16450). In loopback the
   * line input is disconnected and the bytes are dropped.
   */
  receive(bytes: ArrayLike<number>): void {
    if (this.loopback) return;
    for (let i = 0; i < bytes.length; i++) this.receiveByte(bytes[i] & 0xff);
    this.update();
  }

  /** The interrupt line's level: high while IIR names a pending interrupt. */
  get interruptLevel(): boolean {
    return this.interrupt;
  }

  /** A copy of the whole state. */
  save(): Uart16550State {
    return { ...this.s, rxFifo: [...this.s.rxFifo] };
  }

  /** Replaces the whole state with a saved one (checked), then drives the interrupt line to match. */
  restore(state: Uart16550State): void {
    const fifoEnabled = (state.fcr & UART_FCR_ENABLE) !== 0;
    if (state.rxFifo.length > (fifoEnabled ? UART_FIFO_SIZE : 1)) {
      throw new RangeError(`saved UART receive FIFO holds ${state.rxFifo.length} bytes, more than the UART does`);
    }
    this.s = {
      ier: state.ier & IER_MASK,
      fcr: fifoEnabled ? state.fcr & (UART_FCR_ENABLE | (3 << FCR_TRIGGER_SHIFT)) : 0,
      lcr: state.lcr & 0xff,
      mcr: state.mcr & MCR_MASK,
      overrun: state.overrun,
      msr: state.msr & 0xff,
      scr: state.scr & 0xff,
      dll: state.dll & 0xff,
      dlm: state.dlm & 0xff,
      thrIpending: state.thrIpending,
      rxFifo: state.rxFifo.map((byte) => byte & 0xff),
      rbr: state.rbr & 0xff,
    };
    this.update();
  }

  private receiveByte(byte: number): void {
    const fifo = this.s.rxFifo;
    if (fifo.length < this.capacity) {
      fifo.push(byte);
      return;
    }
    this.s.overrun = true;
    if (!this.fifoEnabled) fifo[0] = byte;
  }

  private lsr(): number {
    const s = this.s;
    return (s.rxFifo.length > 0 ? UART_LSR_DR : 0) | (s.overrun ? UART_LSR_OE : 0) | UART_LSR_THRE | UART_LSR_TEMT;
  }

  /** IIR bits 0-3: the highest-priority enabled interrupt pending, or UART_IIR_NO_INT. */
  private iir(): number {
    const s = this.s;
    if ((s.ier & UART_IER_ELSI) && s.overrun) return UART_IIR_RLSI;
    if ((s.ier & UART_IER_ERBFI) && s.rxFifo.length > 0) {
      const trigger = this.fifoEnabled ? TRIGGER_LEVELS[s.fcr >> FCR_TRIGGER_SHIFT] : 1;
      return s.rxFifo.length >= trigger ? UART_IIR_RDI : UART_IIR_CTI;
    }
    if ((s.ier & UART_IER_ETBEI) && s.thrIpending) return UART_IIR_THRI;
    if ((s.ier & UART_IER_EDSSI) && (s.msr & MSR_DELTAS)) return UART_IIR_MSI;
    return UART_IIR_NO_INT;
  }

  /** Sets the modem inputs (MSR bits 4-7) and accumulates their delta bits. */
  private setModemInputs(inputs: number): void {
    const s = this.s;
    const changed = (s.msr ^ inputs) & 0xf0;
    let deltas = 0;
    if (changed & UART_MSR_CTS) deltas |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR) deltas |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD) deltas |= UART_MSR_DDCD;
    if ((changed & UART_MSR_RI) && !(inputs & UART_MSR_RI)) deltas |= UART_MSR_TERI;
    s.msr = inputs | (s.msr & MSR_DELTAS) | deltas;
  }

  /** Recomputes the interrupt line and reports a change of level. */
  private update(): void {
    const level = this.iir() !== UART_IIR_NO_INT;
    if (level === this.interrupt) return;
    this.interrupt = level;
    this.wiring.setInterrupt(level);
  }
}

/** In loopback the modem outputs drive the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
function loopedModemInputs(mcr: number): number {
  return (mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) | (mcr & UART_MCR_DTR ? UART_MSR_DSR : 0)
    | (mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0);
}

function checkOffset(offset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset >= UART_REGISTER_COUNT) {
    throw new RangeError(`a 16550 has registers at offsets 0-7, not ${offset}`);
  }
  return offset;
}
