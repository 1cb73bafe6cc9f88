/**
 * The PC keyboard controller (an Intel 8042 running the IBM PC AT / PS/2 firmware) with an AT
 * keyboard on its first port, as a pure state machine: data port 0x60, status and command port
 * 0x64. References: IBM PS/2 Hardware Interface Technical Reference, "Keyboard/Auxiliary Device
 * Controller"; the keyboard's command set from the same book's "Keyboard" chapter.
 *
 * Modelled: the status register, the command byte (0x20/0x60, and the other RAM bytes 0x21-0x3F /
 * 0x61-0x7F), self-test (0xAA -> 0x55), interface tests (0xAB, 0xA9 -> 0), disabling and enabling
 * each port (0xAD/0xAE, 0xA7/0xA8), the output port (0xD0/0xD1: bit 0 resets the CPU, bit 1 gates
 * A20), writing the output buffer as either device (0xD2/0xD3), sending to the auxiliary port
 * (0xD4: no mouse is attached, so the controller reports a timeout with 0xFE), pulsing the output
 * lines (0xF0-0xFF; 0xFE is the reboot), IRQ1/IRQ12 while the output buffer holds a byte from the
 * keyboard/aux side and the command byte enables it. The keyboard answers reset (0xFA 0xAA),
 * identify (0xFA 0xAB 0x83, or 0x41 with translation on, as a real 8042 translates it), echo, LED,
 * typematic and scan-set commands, enable and disable, and 0xFE (resend) to anything else; that is what
 * Linux's i8042 and atkbd probes ask. Left out: key input from the host, scan-code translation of
 * key bytes, the controller's input port (0xC0).
 *
 * Bytes are handed over at once (the input buffer is never full, IBF reads 0). What the guest
 * controls and what bounds it: each queue of bytes waiting for the output buffer holds at most
 * QUEUE_LIMIT; replies beyond that are dropped, as a real keyboard stops answering a host that
 * does not read.
 */

/** Status register bits (port 0x64 read). */
export const I8042_STR_OBF = 0x01;
export const I8042_STR_SYSFLAG = 0x04;
export const I8042_STR_CMDDAT = 0x08; // the last write went to the command port
export const I8042_STR_KEYLOCK = 0x10; // 1: the keyboard is not inhibited
export const I8042_STR_AUXDATA = 0x20;
export const I8042_STR_TIMEOUT = 0x40;

/** Command byte bits. */
export const I8042_CTR_KBDINT = 0x01;
export const I8042_CTR_AUXINT = 0x02;
export const I8042_CTR_SYSFLAG = 0x04;
export const I8042_CTR_KBDDIS = 0x10;
export const I8042_CTR_AUXDIS = 0x20;
export const I8042_CTR_XLATE = 0x40;

/** Output port bits (0xD0/0xD1). */
export const I8042_OUT_RESET = 0x01; // 0 holds the CPU in reset
export const I8042_OUT_A20 = 0x02;

/** Keyboard replies. */
export const KBD_ACK = 0xfa;
export const KBD_BAT_OK = 0xaa;
export const KBD_RESEND = 0xfe;
export const KBD_ECHO = 0xee;

/** At most this many bytes wait in each queue for the output buffer (the controller's FIFO size Linux assumes). */
const QUEUE_LIMIT = 16;
/** The command byte as firmware leaves it: keyboard on with IRQ1 and translation, aux off, POST passed. */
const CTR_AFTER_POST = I8042_CTR_XLATE | I8042_CTR_AUXDIS | I8042_CTR_SYSFLAG | I8042_CTR_KBDINT;
/** Scan sets 1-3 as a translating controller reports them (Linux's atkbd expects these). */
const TRANSLATED_SCAN_SET = [0, 0x43, 0x41, 0x3f];

/** What the controller drives. */
export interface I8042Wiring {
  setIrq1: (level: boolean) => void;
  setIrq12: (level: boolean) => void;
  /** The A20 gate (output port bit 1) changed. */
  setA20: (enabled: boolean) => void;
  /** The controller pulsed the CPU's reset line: the guest reboots. */
  reset: () => void;
}

/** A byte on its way to the output buffer, with the side it comes from. */
interface OutputByte { byte: number; aux: boolean; timeout: boolean }

/**
 * The AT keyboard on the first port: answers commands and keeps its scan set. LED and typematic
 * bytes are acknowledged and dropped (no host LEDs; no key repeat without key input).
 */
class AtKeyboard {
  scanSet = 2;
  /** The command whose parameter byte comes next (0xED, 0xF0, 0xF3), or 0. */
  private awaiting = 0;

  /** Handles one byte from the host; returns the keyboard's reply bytes. */
  receive(byte: number, translating: boolean): number[] {
    const command = this.awaiting;
    if (command !== 0) {
      this.awaiting = 0;
      if (command !== 0xf0) return [KBD_ACK]; // the LED or typematic byte
      // Scan set: 0 asks for the current one, 1-3 choose one.
      if (byte === 0) return [KBD_ACK, translating ? TRANSLATED_SCAN_SET[this.scanSet] : this.scanSet];
      if (byte > 3) return [KBD_RESEND];
      this.scanSet = byte;
      return [KBD_ACK];
    }
    switch (byte) {
      case 0xed: // set LEDs
      case 0xf0: // scan set
      case 0xf3: // typematic rate
        this.awaiting = byte;
        return [KBD_ACK];
      case 0xee:
        return [KBD_ECHO];
      case 0xf2: // identify: an MF2 keyboard
        return [KBD_ACK, 0xab, translating ? 0x41 : 0x83];
      case 0xf4: // enable scanning
        return [KBD_ACK];
      case 0xf5: // disable: defaults, stop scanning
      case 0xf6: // defaults
        this.scanSet = 2;
        return [KBD_ACK];
      case 0xff: // reset and basic assurance test
        this.scanSet = 2;
        return [KBD_ACK, KBD_BAT_OK];
      default:
        // 0xF7-0xFD (scan set 3 key types) are acknowledged; anything else asks for a resend.
        return byte >= 0xf7 && byte <= 0xfd ? [KBD_ACK] : [KBD_RESEND];
    }
  }
}

/** The keyboard controller: `readData`/`writeData` are port 0x60, `readStatus`/`writeCommand` 0x64. */
export class I8042 {
  /** Controller RAM; byte 0 is the command byte. */
  private readonly ram = new Uint8Array(32);
  private outputPort = I8042_OUT_RESET | I8042_OUT_A20;
  private readonly keyboard = new AtKeyboard();
  private buffer: OutputByte | undefined;
  private lastRead = 0;
  /** Controller replies, then the keyboard's bytes, waiting for the output buffer. */
  private readonly replies: OutputByte[] = [];
  private readonly keyboardQueue: OutputByte[] = [];
  /** The controller command whose data byte the next 0x60 write is, or 0. */
  private awaiting = 0;
  private lastWasCommand = false;
  private irq1 = false;
  private irq12 = false;

  constructor(private readonly wiring: I8042Wiring) {
    this.ram[0] = CTR_AFTER_POST;
  }

  private get ctr(): number {
    return this.ram[0];
  }

  /** Port 0x64 read. */
  readStatus(): number {
    const b = this.buffer;
    return (b ? I8042_STR_OBF : 0) | (b?.aux ? I8042_STR_AUXDATA : 0) | (b?.timeout ? I8042_STR_TIMEOUT : 0)
      | (this.ctr & I8042_CTR_SYSFLAG ? I8042_STR_SYSFLAG : 0) | (this.lastWasCommand ? I8042_STR_CMDDAT : 0)
      | I8042_STR_KEYLOCK;
  }

  /** Port 0x60 read: takes the output buffer (an empty one reads its last byte again). */
  readData(): number {
    if (this.buffer) {
      this.lastRead = this.buffer.byte;
      this.buffer = undefined;
      // The lines drop with the buffer, so the next byte gives the edge-triggered PIC a new edge.
      this.updateIrqs();
      this.refill();
    }
    return this.lastRead;
  }

  /** Port 0x64 write: a controller command. */
  writeCommand(value: number): void {
    const command = value & 0xff;
    this.lastWasCommand = true;
    this.awaiting = 0;
    if (command >= 0x20 && command <= 0x3f) {
      this.reply(this.ram[command - 0x20]);
    } else if ((command >= 0x60 && command <= 0x7f) || (command >= 0xd1 && command <= 0xd4)) {
      this.awaiting = command;
    } else if (command >= 0xf0) {
      // Pulse output lines: a 0 in bit 0 pulses the CPU reset line.
      if (!(command & 1)) this.wiring.reset();
    } else {
      this.simpleCommand(command);
    }
    this.update();
  }

  private simpleCommand(command: number): void {
    switch (command) {
      case 0xa7:
        this.ram[0] |= I8042_CTR_AUXDIS;
        break;
      case 0xa8:
        this.ram[0] &= ~I8042_CTR_AUXDIS;
        break;
      case 0xa9: // aux interface test: no error
      case 0xab: // keyboard interface test: no error
        this.reply(0x00);
        break;
      case 0xaa: // controller self-test
        this.reply(0x55);
        break;
      case 0xad:
        this.ram[0] |= I8042_CTR_KBDDIS;
        break;
      case 0xae:
        this.ram[0] &= ~I8042_CTR_KBDDIS;
        break;
      case 0xd0:
        this.reply(this.outputPort);
        break;
      case 0xe0: // test inputs: clock and data low
        this.reply(0x00);
        break;
      default: // unknown commands are ignored
        break;
    }
  }

  /** Port 0x60 write: a command's data byte, or a byte for the keyboard. */
  writeData(value: number): void {
    const byte = value & 0xff;
    const command = this.awaiting;
    this.awaiting = 0;
    this.lastWasCommand = false;
    if (command >= 0x60 && command <= 0x7f) {
      this.ram[command - 0x60] = byte;
    } else if (command === 0xd1) {
      this.writeOutputPort(byte);
    } else if (command === 0xd2 || command === 0xd3) {
      // The controller itself fills the output buffer "as if from" the device: no port gating.
      push(this.replies, { byte, aux: command === 0xd3, timeout: false });
    } else if (command === 0xd4) {
      push(this.replies, { byte: KBD_RESEND, aux: true, timeout: true });
    } else {
      for (const reply of this.keyboard.receive(byte, (this.ctr & I8042_CTR_XLATE) !== 0)) {
        push(this.keyboardQueue, { byte: reply, aux: false, timeout: false });
      }
    }
    this.update();
  }

  private writeOutputPort(byte: number): void {
    const a20Changed = (byte ^ this.outputPort) & I8042_OUT_A20;
    this.outputPort = byte;
    if (a20Changed) this.wiring.setA20((byte & I8042_OUT_A20) !== 0);
    if (!(byte & I8042_OUT_RESET)) this.wiring.reset();
  }

  private reply(byte: number): void {
    push(this.replies, { byte, aux: false, timeout: false });
  }

  /**
   * Moves the next waiting byte into an empty output buffer: the controller's own first, then the
   * keyboard's unless its port is disabled (its clock line is held low, so it cannot send).
   */
  private refill(): void {
    if (this.buffer) return;
    this.buffer = this.replies.shift() ?? (this.ctr & I8042_CTR_KBDDIS ? undefined : this.keyboardQueue.shift());
    this.updateIrqs();
  }

  private update(): void {
    this.refill();
    this.updateIrqs();
  }

  private updateIrqs(): void {
    const b = this.buffer;
    const irq1 = b !== undefined && !b.aux && (this.ctr & I8042_CTR_KBDINT) !== 0;
    const irq12 = b !== undefined && b.aux && (this.ctr & I8042_CTR_AUXINT) !== 0;
    if (irq1 !== this.irq1) {
      this.irq1 = irq1;
      this.wiring.setIrq1(irq1);
    }
    if (irq12 !== this.irq12) {
      this.irq12 = irq12;
      this.wiring.setIrq12(irq12);
    }
  }
}

function push(queue: OutputByte[], byte: OutputByte): void {
  if (queue.length < QUEUE_LIMIT) queue.push(byte);
}
