// Unit tests of the 16550A model against the PC16550D datasheet's register behaviour.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Uart16550, UART_DLL, UART_DLM, UART_FCR, UART_FCR_CLEAR_RCVR, UART_FCR_ENABLE, UART_FIFO_SIZE,
  UART_IER, UART_IER_EDSSI, UART_IER_ELSI, UART_IER_ERBFI, UART_IER_ETBEI, UART_IIR, UART_IIR_CTI,
  UART_IIR_FIFOS, UART_IIR_MSI, UART_IIR_NO_INT, UART_IIR_RDI, UART_IIR_RLSI, UART_IIR_THRI, UART_LCR,
  UART_LCR_DLAB, UART_LSR, UART_LSR_DR, UART_LSR_OE, UART_LSR_TEMT, UART_LSR_THRE, UART_MCR,
  UART_MCR_DTR, UART_MCR_LOOP, UART_MCR_OUT1, UART_MCR_OUT2, UART_MCR_RTS, UART_MSR, UART_MSR_CTS,
  UART_MSR_DCD, UART_MSR_DCTS, UART_MSR_DDCD, UART_MSR_DDSR, UART_MSR_DSR, UART_MSR_RI, UART_MSR_TERI, UART_RBR,
  UART_SCR, UART_THR,
} from "../workers/devices/uart-16550";

/** A UART wired to arrays recording what it transmitted and every interrupt-line change. */
function wiredUart(): { uart: Uart16550; sent: number[]; irqs: boolean[] } {
  const sent: number[] = [];
  const irqs: boolean[] = [];
  const uart = new Uart16550({ transmit: (byte) => sent.push(byte), setInterrupt: (level) => irqs.push(level) });
  return { uart, sent, irqs };
}

/** IIR bits 0-3 (the interrupt identification without the FIFO bits). */
const iirId = (uart: Uart16550): number => uart.read(UART_IIR) & 0x0f;

describe("16550 registers after reset", () => {
  it("reads IER 0, IIR 1, LCR 0, MCR 0, LSR 0x60, and a ready terminal in MSR", () => {
    const { uart } = wiredUart();
    assert.equal(uart.read(UART_IER), 0);
    assert.equal(uart.read(UART_IIR), UART_IIR_NO_INT);
    assert.equal(uart.read(UART_LCR), 0);
    assert.equal(uart.read(UART_MCR), 0);
    assert.equal(uart.read(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    assert.equal(uart.read(UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
  });

  it("keeps the scratch register and masks IER and MCR to their defined bits", () => {
    const { uart } = wiredUart();
    uart.write(UART_SCR, 0x5a);
    uart.write(UART_IER, 0xff);
    uart.write(UART_MCR, 0xff);
    assert.equal(uart.read(UART_SCR), 0x5a);
    assert.equal(uart.read(UART_IER), 0x0f);
    assert.equal(uart.read(UART_MCR), 0x1f);
  });

  it("refuses offsets outside 0-7", () => {
    const { uart } = wiredUart();
    assert.throws(() => uart.read(8), RangeError);
    assert.throws(() => uart.write(-1, 0), RangeError);
  });
});

describe("16550 divisor latch (LCR.DLAB)", () => {
  it("maps offsets 0 and 1 to DLL/DLM while DLAB is set, and back to THR/IER after", () => {
    const { uart, sent } = wiredUart();
    uart.write(UART_LCR, UART_LCR_DLAB | 0x03);
    uart.write(UART_DLL, 0x01);
    uart.write(UART_DLM, 0x02);
    assert.equal(uart.read(UART_DLL), 0x01);
    assert.equal(uart.read(UART_DLM), 0x02);
    assert.deepEqual(sent, [], "a DLL write is not a transmission");
    assert.equal(uart.read(UART_IER), 0x02, "offset 1 still reads DLM");

    uart.write(UART_LCR, 0x03);
    assert.equal(uart.read(UART_IER), 0, "IER was untouched by the DLM write");
    uart.write(UART_THR, 0x41);
    assert.deepEqual(sent, [0x41]);
    uart.write(UART_LCR, UART_LCR_DLAB);
    assert.equal(uart.read(UART_DLL), 0x01, "the THR write left DLL alone");
  });

  it("does not pop the receive FIFO when offset 0 is read as DLL", () => {
    const { uart } = wiredUart();
    uart.receive([0x61]);
    uart.write(UART_LCR, UART_LCR_DLAB);
    uart.read(UART_DLL);
    uart.write(UART_LCR, 0);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    assert.equal(uart.read(UART_RBR), 0x61);
  });
});

describe("16550 line status", () => {
  it("keeps THRE and TEMT set across transmissions (bytes leave at once)", () => {
    const { uart, sent } = wiredUart();
    for (const byte of [0x68, 0x69]) {
      uart.write(UART_THR, byte);
      assert.equal(uart.read(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
    }
    assert.deepEqual(sent, [0x68, 0x69]);
  });

  it("sets DR while received bytes wait and clears it when the last is read, in order", () => {
    const { uart } = wiredUart();
    uart.write(UART_FCR, UART_FCR_ENABLE);
    uart.receive([1, 2, 3]);
    const got: number[] = [];
    while (uart.read(UART_LSR) & UART_LSR_DR) got.push(uart.read(UART_RBR));
    assert.deepEqual(got, [1, 2, 3]);
  });

  it("drops bytes beyond the 16-byte FIFO, sets OE, and clears OE on the LSR read", () => {
    const { uart } = wiredUart();
    uart.write(UART_FCR, UART_FCR_ENABLE);
    const bytes = Array.from({ length: UART_FIFO_SIZE + 4 }, (_, i) => i);
    uart.receive(bytes);
    assert.equal(uart.rxRoom(), 0);
    assert.equal(uart.read(UART_LSR) & (UART_LSR_OE | UART_LSR_DR), UART_LSR_OE | UART_LSR_DR);
    assert.equal(uart.read(UART_LSR) & UART_LSR_OE, 0, "reading LSR clears OE");
    const got: number[] = [];
    while (uart.read(UART_LSR) & UART_LSR_DR) got.push(uart.read(UART_RBR));
    assert.deepEqual(got, bytes.slice(0, UART_FIFO_SIZE), "the FIFO keeps the first 16 bytes");
  });

  it("holds one byte with FIFOs off: a second overwrites it and sets OE (16450 mode)", () => {
    const { uart } = wiredUart();
    assert.equal(uart.rxRoom(), 1);
    uart.receive([0x31, 0x32]);
    assert.equal(uart.read(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
    assert.equal(uart.read(UART_RBR), 0x32);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, 0);
  });

  it("clears the receive FIFO on FCR's clear bit and when the FIFO enable bit changes", () => {
    const { uart } = wiredUart();
    uart.write(UART_FCR, UART_FCR_ENABLE);
    uart.receive([1, 2]);
    uart.write(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RCVR);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, 0);
    uart.receive([3]);
    uart.write(UART_FCR, 0);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, 0);
  });
});

describe("16550 interrupt identification", () => {
  it("reports FIFOs enabled in IIR bits 6-7", () => {
    const { uart } = wiredUart();
    assert.equal(uart.read(UART_IIR) & UART_IIR_FIFOS, 0);
    uart.write(UART_FCR, UART_FCR_ENABLE);
    assert.equal(uart.read(UART_IIR) & UART_IIR_FIFOS, UART_IIR_FIFOS);
  });

  it("raises THRE when ETBEI is enabled, clears it on the IIR read, re-raises it on a THR write", () => {
    const { uart, irqs } = wiredUart();
    uart.write(UART_IER, UART_IER_ETBEI);
    assert.deepEqual(irqs, [true]);
    assert.equal(iirId(uart), UART_IIR_THRI);
    assert.deepEqual(irqs, [true, false], "the IIR read that names THRE acknowledges it");
    assert.equal(iirId(uart), UART_IIR_NO_INT);
    uart.write(UART_THR, 0x21);
    assert.deepEqual(irqs, [true, false, true], "THR emptied again after the byte left");
    assert.equal(iirId(uart), UART_IIR_THRI);
  });

  it("pulses the line low on a THR write while THRE is pending (the write acknowledges it)", () => {
    const { uart, irqs } = wiredUart();
    uart.write(UART_IER, UART_IER_ETBEI);
    uart.write(UART_THR, 0x21);
    assert.deepEqual(irqs, [true, false, true]);
  });

  it("orders line status > received data > THR empty > modem status, each cleared its own way", () => {
    const { uart } = wiredUart();
    uart.write(UART_IER, UART_IER_ERBFI | UART_IER_ETBEI | UART_IER_ELSI | UART_IER_EDSSI);
    uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS); // loopback drops DSR and DCD: modem deltas
    uart.write(UART_THR, 0x41); // looped back: data received
    uart.write(UART_THR, 0x42); // FIFOs off: overwrites the first byte, overrun
    assert.equal(iirId(uart), UART_IIR_RLSI);
    uart.read(UART_LSR); // clears OE
    assert.equal(iirId(uart), UART_IIR_RDI, "FIFOs off: data available, never the timeout code");
    assert.equal(uart.read(UART_RBR), 0x42);
    assert.equal(iirId(uart), UART_IIR_THRI); // this read acknowledges THRE
    assert.equal(iirId(uart), UART_IIR_MSI);
    assert.equal(uart.read(UART_MSR) & (UART_MSR_DDSR | UART_MSR_DDCD), UART_MSR_DDSR | UART_MSR_DDCD);
    assert.equal(iirId(uart), UART_IIR_NO_INT, "reading MSR cleared the deltas");
  });

  it("gates each source by its IER bit", () => {
    const { uart, irqs } = wiredUart();
    uart.receive([0x41, 0x42]);
    assert.equal(iirId(uart), UART_IIR_NO_INT);
    assert.deepEqual(irqs, []);
    uart.write(UART_IER, UART_IER_ERBFI);
    assert.equal(iirId(uart), UART_IIR_RDI);
    assert.deepEqual(irqs, [true]);
    uart.write(UART_IER, 0);
    assert.deepEqual(irqs, [true, false]);
  });

  it("reports data below the FIFO trigger level as a character timeout, at or above as RDI", () => {
    const { uart } = wiredUart();
    uart.write(UART_FCR, UART_FCR_ENABLE | (1 << 6)); // trigger level 4
    uart.write(UART_IER, UART_IER_ERBFI);
    uart.receive([1, 2, 3]);
    assert.equal(iirId(uart), UART_IIR_CTI);
    uart.receive([4]);
    assert.equal(iirId(uart), UART_IIR_RDI);
    uart.read(UART_RBR);
    assert.equal(iirId(uart), UART_IIR_CTI);
    while (uart.read(UART_LSR) & UART_LSR_DR) uart.read(UART_RBR);
    assert.equal(iirId(uart), UART_IIR_NO_INT);
  });
});

describe("16550 loopback (MCR.LOOP)", () => {
  it("receives what it transmits and sends nothing on the line", () => {
    const { uart, sent } = wiredUart();
    uart.write(UART_FCR, UART_FCR_ENABLE);
    uart.write(UART_MCR, UART_MCR_LOOP);
    uart.write(UART_THR, 0xa5);
    assert.deepEqual(sent, []);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    assert.equal(uart.read(UART_RBR), 0xa5);
  });

  it("disconnects the line input", () => {
    const { uart } = wiredUart();
    uart.write(UART_MCR, UART_MCR_LOOP);
    uart.receive([0x41]);
    assert.equal(uart.read(UART_LSR) & UART_LSR_DR, 0);
  });

  it("feeds RTS, DTR, OUT1, OUT2 to CTS, DSR, RI, DCD, with delta bits", () => {
    const { uart } = wiredUart();
    uart.write(UART_MCR, UART_MCR_LOOP);
    uart.read(UART_MSR); // clear the deltas of entering loopback
    assert.equal(uart.read(UART_MSR), 0, "all outputs off: all inputs off");
    uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR | UART_MCR_OUT1 | UART_MCR_OUT2);
    assert.equal(uart.read(UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCD
      | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD, "RI rising sets no TERI");
    uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
    assert.equal(uart.read(UART_MSR), UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI,
      "CTS and DSR fall; RI's trailing edge sets TERI");
    uart.write(UART_MCR, 0);
    assert.equal(uart.read(UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR,
      "leaving loopback reconnects the terminal's lines");
  });
});

describe("16550 save/restore", () => {
  it("round-trips the whole state, and the restored UART behaves the same", () => {
    const a = wiredUart();
    a.uart.write(UART_LCR, UART_LCR_DLAB);
    a.uart.write(UART_DLL, 0x03);
    a.uart.write(UART_LCR, 0x1b);
    a.uart.write(UART_FCR, UART_FCR_ENABLE | (2 << 6));
    a.uart.write(UART_IER, UART_IER_ERBFI | UART_IER_ELSI);
    a.uart.write(UART_MCR, UART_MCR_DTR | UART_MCR_OUT2);
    a.uart.write(UART_SCR, 0x77);
    a.uart.receive([1, 2, 3]);
    const saved = a.uart.save();

    const b = wiredUart();
    b.uart.restore(saved);
    assert.deepEqual(b.uart.save(), saved);
    assert.deepEqual(b.irqs, [true], "the restored line level is driven");
    assert.equal(b.uart.interruptLevel, a.uart.interruptLevel);
    for (const offset of [UART_IIR, UART_LCR, UART_MCR, UART_LSR, UART_SCR, UART_RBR, UART_RBR, UART_LSR]) {
      assert.equal(b.uart.read(offset), a.uart.read(offset), `offset ${offset}`);
    }
  });

  it("returns a copy that later activity does not change", () => {
    const { uart } = wiredUart();
    uart.receive([9]);
    const saved = uart.save();
    uart.read(UART_RBR);
    assert.deepEqual(saved.rxFifo, [9]);
  });

  it("refuses a saved FIFO larger than the UART's", () => {
    const { uart } = wiredUart();
    const saved = uart.save();
    assert.throws(() => uart.restore({ ...saved, rxFifo: [1, 2] }), RangeError);
    assert.throws(() => uart.restore({ ...saved, fcr: UART_FCR_ENABLE, rxFifo: new Array(17).fill(0) }), RangeError);
  });
});

describe("16550 status a register file may publish", () => {
  /** A UART in the saved state, wired to nothing. */
  const clone = (state: ReturnType<Uart16550["save"]>): Uart16550 => {
    const copy = new Uart16550({ transmit: () => undefined, setInterrupt: () => undefined });
    copy.restore(state);
    return copy;
  };
  const published = (uart: Uart16550): (number | boolean | undefined)[] =>
    [...[UART_LSR, UART_MSR].map((o) => uart.peekStatus(o)), ...Array.from({ length: 8 }, (_, o) => uart.writeChangesStatus(o))];

  it("offers LSR and MSR only when reading them changes nothing, and writes it calls quiet change nothing it offers", () => {
    // A seeded walk over random accesses and input: every offered value is what a read returns
    // with the state unchanged, and every quiet write leaves the offers as they were.
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const { uart } = wiredUart();
    for (let step = 0; step < 5000; step++) {
      for (const offset of [UART_LSR, UART_MSR]) {
        const offered = uart.peekStatus(offset);
        if (offered === undefined) continue;
        const copy = clone(uart.save());
        assert.equal(copy.read(offset), offered);
        assert.deepEqual(copy.save(), uart.save(), `reading offset ${offset} changed the state`);
      }
      const offset = random(8);
      const action = random(4);
      if (action === 0) uart.receive([random(256)]);
      else if (action === 1) uart.read(offset);
      else {
        const quiet = !uart.writeChangesStatus(offset);
        const before = published(uart);
        // MCR and FCR values that reach loopback and the FIFO modes often.
        uart.write(offset, offset === UART_MCR ? random(2) * UART_MCR_LOOP | random(16) : random(256));
        if (quiet) assert.deepEqual(published(uart), before, `a quiet write to offset ${offset} changed what is offered`);
      }
    }
  });
});
