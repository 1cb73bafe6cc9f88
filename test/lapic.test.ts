// The local APIC in the core, from the SDM (vol. 3, chapter 11): power-up register values,
// priority masking by TPR and the ISR, EOI (and its broadcast to the IOAPIC for level-triggered
// vectors), IPIs between vCPU blocks, the timer in its three modes on a clock the test moves,
// LINT0 ExtINT and LINT1 NMI, the hidden configuration, and HLT sleeping in a real vCPU worker.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { IOAPIC_EOI_GPA } from "../assembly/abi/layout";
import { gpa, ramOffset } from "../workers/addresses";
import { deliverFixed, deliverMessage, deliverNmi, pulseLint1, setExtIntLevel } from "../workers/apic-bus";
import { flatProtectedMode, REG, type RegisterEntry } from "../workers/registers";
import { asm } from "./fixtures/asm";
import { CoreHost, type CoreHostOptions } from "./fixtures/core-host";
import { destroyTestVms, testVm } from "./fixtures/test-vm";
import { CODE, DATA, gateDescriptor, INT_GATE32, segmentDescriptor, writeTable } from "./fixtures/x86-tables";

after(destroyTestVms);

const APIC = 0xfee00000;
const EOI = APIC + 0xb0;
const GDT = 0x1000;
/** Each vCPU's area of RAM: IDT, one 64-byte handler per vector, log, flags, code, stack. */
const AREA = 0x20000;
const IDT = 0x2000;
const HANDLERS = 0x4000;
const LOG_PTR = 0x9000;
const GO = 0x9004;
const PPR_COPY = 0x9008;
const OUT = 0x9010; // results a program stores
const LOG = 0x9100;
const CODE_AT = 0xa000;
const STACK = 0x1f000;

/** Addresses of vCPU `i`'s area. */
const at = (i: number, offset: number): number => i * AREA + offset;

interface HandlerOptions {
  /** Vectors whose handler writes EOI before IRET (default: all but 2). */
  noEoi?: number[];
  /** Vectors whose handler waits for GO (and clears it) before IRET. */
  waitGo?: number[];
}

/** An interrupt handler: logs its vector, maybe waits for GO, maybe EOIs, IRETs; EAX preserved. */
function handler(i: number, vector: number, options: HandlerOptions): number[] {
  const code = [...asm.pushEax(), ...asm.loadEax(at(i, LOG_PTR)), ...asm.storeByteAtEax(vector), ...asm.incMem(at(i, LOG_PTR))];
  if (options.waitGo?.includes(vector)) code.push(...waitForGo(i));
  if (vector !== 2 && !options.noEoi?.includes(vector)) code.push(...asm.storeImm(EOI, 0));
  return [...code, ...asm.popEax(), ...asm.iret()];
}

/** Spins until GO is non-zero, then clears it. */
function waitForGo(i: number): number[] {
  return [...asm.cmpMemImm8(at(i, GO), 0), ...asm.jeBack(7), ...asm.storeImm(at(i, GO), 0)];
}

/**
 * The idle loop most tests end in: copy PPR to PPR_COPY; when GO is set, clear it and write EOI.
 */
function eoiLoop(i: number): number[] {
  const head = [...asm.loadEax(APIC + 0xa0), ...asm.storeEax(at(i, PPR_COPY)), ...asm.cmpMemImm8(at(i, GO), 0)];
  const loop = [...head, ...asm.jeBack(head.length), ...asm.storeImm(at(i, GO), 0), ...asm.storeImm(EOI, 0)];
  return [...loop, ...asm.loopBack(loop.length)];
}

/** Writes vCPU `i`'s IDT, handlers and `program` into `ram`; returns its register state. */
function setUp(ram: Uint8Array, i: number, program: number[], options: HandlerOptions = {}): RegisterEntry[] {
  writeTable(ram, GDT, [undefined, segmentDescriptor(0, 0xffffffff, CODE, 0), segmentDescriptor(0, 0xffffffff, DATA, 0)]);
  writeTable(ram, at(i, IDT), Array.from({ length: 256 }, (_, v) => gateDescriptor(0x08, at(i, HANDLERS) + v * 64, INT_GATE32, 0)));
  for (let v = 0; v < 256; v++) ram.set(handler(i, v, options), at(i, HANDLERS) + v * 64);
  new DataView(ram.buffer, ram.byteOffset).setUint32(at(i, LOG_PTR), at(i, LOG), true);
  ram.set(program, at(i, CODE_AT));
  return [
    ...flatProtectedMode(at(i, CODE_AT)),
    { tag: REG["cs.selector"], value: 0x08n },
    ...["ds", "es", "ss", "fs", "gs"].map((s) => ({ tag: REG[`${s}.selector`], value: 0x10n })),
    { tag: REG["gdtr.base"], value: BigInt(GDT) }, { tag: REG["gdtr.limit"], value: 23n },
    { tag: REG["idtr.base"], value: BigInt(at(i, IDT)) }, { tag: REG["idtr.limit"], value: 256n * 8n - 1n },
    { tag: REG.rsp, value: BigInt(at(i, STACK)) },
  ];
}

/** Software-enables the APIC (SVR bit 8, spurious vector FFh). */
const enableApic = (): number[] => asm.storeImm(APIC + 0xf0, 0x1ff);

/** A CoreHost whose vCPUs have APICs and run `programs` (one per vCPU). */
function machine(programs: number[][], options: CoreHostOptions & HandlerOptions = {}): CoreHost {
  const host = new CoreHost(1 << 20, { ...options, vcpus: programs.length });
  host.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: 1 << 20, ramOffset: ramOffset(0) }]);
  programs.forEach((program, i) => {
    host.resetApic(i);
    host.setState(setUp(host.ram, i, program, options), i);
  });
  return host;
}

const log = (ram: Uint8Array, i = 0): number[] => {
  const end = new DataView(ram.buffer, ram.byteOffset).getUint32(at(i, LOG_PTR), true);
  return [...ram.subarray(at(i, LOG), end)];
};
const word = (ram: Uint8Array, addr: number): number => new DataView(ram.buffer, ram.byteOffset).getUint32(addr, true);
const reg = (host: CoreHost, name: string, vcpu = 0): number => Number(host.getState([REG[name]], vcpu)[0].value);
const go = (host: CoreHost, i = 0): void => new DataView(host.ram.buffer, host.ram.byteOffset).setUint32(at(i, GO), 1, true);

test("power-up state (SDM 11.4.7.1), the APIC base MSR, and CPUID leaf 1", () => {
  const host = machine([[
    ...asm.loadEax(APIC + 0x30), ...asm.storeEax(OUT), // version
    ...asm.loadEax(APIC + 0x20), ...asm.storeEax(OUT + 4), // ID
    ...asm.loadEax(APIC + 0xe0), ...asm.storeEax(OUT + 8), // DFR
    ...asm.loadEax(APIC + 0xf0), ...asm.storeEax(OUT + 12), // SVR
    ...asm.loadEax(APIC + 0x350), ...asm.storeEax(OUT + 16), // LVT LINT0
    ...asm.loadEax(APIC + 0x390), ...asm.storeEax(OUT + 20), // current count
    ...asm.movEcxImm(0x1b), ...asm.rdmsr(), ...asm.storeEax(OUT + 24),
    ...asm.movEaxImm(1), ...asm.cpuid(), ...asm.storeEdx(OUT + 28), ...asm.storeEcx(OUT + 32), ...asm.storeEbx(OUT + 36),
    ...asm.hlt(),
  ], []]);
  assert.equal(host.runVcpu(100), "halted", "HLT with an APIC stays in the core");
  assert.deepEqual([0, 4, 8, 12, 16, 20, 24].map((o) => word(host.ram, OUT + o)), [0x50014, 0, 0xffffffff, 0xff, 0x10000, 0, 0xfee00900]);
  assert.ok(word(host.ram, OUT + 28) & (1 << 9), "CPUID.1:EDX.APIC");
  assert.ok(word(host.ram, OUT + 32) & (1 << 24), "CPUID.1:ECX.TSC-Deadline");
  assert.equal(word(host.ram, OUT + 36) >>> 24, 0, "initial APIC ID");
  assert.equal(reg(host, "apic.id", 1), 1 << 24);
  assert.equal(reg(host, "apic_base", 1), 0xfee00800, "no BSP flag on vCPU 1");
  for (const lvt of ["lvt_timer", "lvt_thermal", "lvt_perf", "lvt_lint0", "lvt_lint1", "lvt_error"]) assert.equal(reg(host, `apic.${lvt}`), 0x10000);
  assert.equal(reg(host, "apic.activity"), 1, "the HLT state shows in the block");
});

test("TPR masks lower priority classes; PPR follows TPR and the vector in service", () => {
  const host = machine([[...enableApic(), ...asm.storeImm(APIC + 0x80, 0x50), ...asm.sti(), ...eoiLoop(0)]], { noEoi: [0x61] });
  host.runVcpu(50);
  assert.equal(word(host.ram, at(0, PPR_COPY)), 0x50, "PPR = TPR with nothing in service");
  deliverFixed(host.memory, 0, 0x45);
  deliverFixed(host.memory, 0, 0x61);
  host.runVcpu(200);
  assert.deepEqual(log(host.ram), [0x61], "0x45 is at or below the TPR's class");
  assert.equal(word(host.ram, at(0, PPR_COPY)), 0x60, "PPR = the class in service when above the TPR");
  assert.equal(reg(host, "apic.irr2"), 1 << 5, "0x45 waits in the IRR");
  host.setState([{ tag: REG["apic.tpr"], value: 0 }]);
  host.runVcpu(200);
  assert.deepEqual(log(host.ram), [0x61], "still below the class in service");
  go(host);
  host.runVcpu(200);
  assert.deepEqual(log(host.ram), [0x61, 0x45], "EOI of 0x61 lets 0x45 through");
});

test("an interrupt that arrives while IF is clear is taken right after STI", () => {
  const host = machine([[...enableApic(), ...waitForGo(0), ...asm.sti(), ...asm.loopBack(0)]]);
  host.runVcpu(20);
  deliverFixed(host.memory, 0, 0x40);
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), []);
  go(host);
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x40]);
});

test("a higher class preempts the one in service; EOI clears the highest ISR bit first", () => {
  const host = machine([[...enableApic(), ...asm.sti(), ...eoiLoop(0)]], { noEoi: [0x40, 0x80, 0x30] });
  host.runVcpu(20);
  deliverFixed(host.memory, 0, 0x40);
  host.runVcpu(100);
  deliverFixed(host.memory, 0, 0x80);
  host.runVcpu(100);
  deliverFixed(host.memory, 0, 0x30);
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x40, 0x80]);
  assert.deepEqual([reg(host, "apic.isr2"), reg(host, "apic.isr4")], [1, 1]);
  go(host);
  host.runVcpu(100);
  assert.deepEqual([reg(host, "apic.isr2"), reg(host, "apic.isr4")], [1, 0], "0x80 ended first");
  assert.deepEqual(log(host.ram), [0x40, 0x80], "0x30 is still below 0x40's class");
  go(host);
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x40, 0x80, 0x30]);
});

test("the EOI of a level-triggered vector is a posted write to the IOAPIC's EOI register; an edge one's is not", () => {
  const host = machine([[...enableApic(), ...asm.sti(), ...eoiLoop(0)]]);
  host.setMemoryMap([
    { kind: "ram", gpa: gpa(0), size: 1 << 20, ramOffset: ramOffset(0) },
    { kind: "mmio", gpa: gpa(0xfec00000), size: 0x1000, socket: 0 }, // posted or not, the EOI does not wait
  ], [0]);
  host.runVcpu(20);
  deliverFixed(host.memory, 0, 0x61);
  host.runVcpu(100);
  assert.deepEqual(host.io, []);
  deliverFixed(host.memory, 0, 0x60, true);
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x61, 0x60]);
  assert.deepEqual(host.io, [{ space: 1, address: IOAPIC_EOI_GPA, size: 4, write: true, posted: true, data: 0x60n }]);
  assert.equal(reg(host, "apic.tmr3"), 1, "TMR keeps the trigger mode of the last 0x60");
});

test("ESR: errors are read after a write; an illegal vector sent logs bit 5", () => {
  const host = machine([[
    ...enableApic(), ...asm.storeImm(APIC + 0x300, 0x4005), // fixed IPI with vector 5
    ...asm.loadEax(APIC + 0x280), ...asm.storeEax(OUT),
    ...asm.storeImm(APIC + 0x280, 0), ...asm.loadEax(APIC + 0x280), ...asm.storeEax(OUT + 4),
    ...asm.storeImm(APIC + 0x280, 0), ...asm.loadEax(APIC + 0x280), ...asm.storeEax(OUT + 8),
    ...asm.loadEax(APIC + 0x2e0), // an unimplemented register
    ...asm.storeImm(APIC + 0x280, 0), ...asm.loadEax(APIC + 0x280), ...asm.storeEax(OUT + 12),
    ...asm.hlt(),
  ]]);
  host.runVcpu(100);
  assert.deepEqual([0, 4, 8, 12].map((o) => word(host.ram, OUT + o)), [0, 0x20, 0, 0x80]);
});

test("IPIs between two vCPUs: physical, logical, all-but-self, self, NMI; INIT and SIPI recorded", () => {
  const sender = [
    ...enableApic(), ...asm.sti(),
    ...asm.storeImm(APIC + 0x310, 1 << 24), ...asm.storeImm(APIC + 0x300, 0x4051), // physical ID 1
    ...asm.storeImm(APIC + 0x310, 0x02000000), ...asm.storeImm(APIC + 0x300, 0x4852), // logical, flat, bit 1
    ...asm.storeImm(APIC + 0x300, 0xc4053), // all excluding self
    ...asm.storeImm(APIC + 0x300, 0x44054), // self
    ...asm.storeImm(APIC + 0x310, 1 << 24), ...asm.storeImm(APIC + 0x300, 0x4400), // NMI
    ...asm.storeImm(APIC + 0x300, 0x4500), ...asm.storeImm(APIC + 0x300, 0x4612), // INIT, SIPI 12h
    ...eoiLoop(0),
  ];
  const receiver = [...enableApic(), ...asm.storeImm(APIC + 0xd0, 0x02000000), ...asm.sti(), ...eoiLoop(1)];
  const host = machine([sender, receiver]);
  host.runVcpu(20, 1);
  host.runVcpu(200, 0);
  assert.deepEqual(log(host.ram, 0), [0x54], "only the self IPI reaches the sender");
  host.runVcpu(200, 1);
  assert.deepEqual(log(host.ram, 1), [2, 0x53, 0x52, 0x51], "the NMI first, then by priority");
  assert.equal(reg(host, "apic.init_count", 1), 1);
  assert.equal(reg(host, "apic.sipi", 1), 0x112);
});

test("an I/O APIC message goes to the APICs its physical or logical destination selects", () => {
  const program = (i: number, ldr: number): number[] => [...enableApic(), ...asm.storeImm(APIC + 0xd0, ldr), ...asm.sti(), ...eoiLoop(i)];
  const host = machine([program(0, 0x01000000), program(1, 0x02000000)]);
  host.runVcpu(20, 0);
  host.runVcpu(20, 1);
  const message = { destMode: "physical", deliveryMode: 0, trigger: "edge" } as const;
  deliverMessage(host.memory, { ...message, destination: 1, vector: 0x41 });
  deliverMessage(host.memory, { ...message, destMode: "logical", destination: 0x01, vector: 0x42 });
  deliverMessage(host.memory, { ...message, destMode: "logical", destination: 0x03, vector: 0x43 });
  deliverMessage(host.memory, { ...message, destination: 0xff, vector: 0x44, trigger: "level" });
  host.runVcpu(200, 0);
  host.runVcpu(200, 1);
  assert.deepEqual(log(host.ram, 0), [0x44, 0x43, 0x42]);
  assert.deepEqual(log(host.ram, 1), [0x44, 0x43, 0x41]);
  assert.deepEqual(host.io.map((r) => r.address), [IOAPIC_EOI_GPA], "vCPU 1's EOI of the level 0x44 went to the I/O APIC");
});

/** A clock the test moves, in host nanoseconds. */
function testClock(): { now: number; clock: () => number } {
  const state = { now: 1_000_000_000, clock: (): number => state.now };
  return state;
}

test("timer one-shot: fires once after initial count x divisor bus clocks; the current count runs down, at a new rate after a divide write", () => {
  const time = testClock();
  const host = machine([[
    ...enableApic(), ...asm.storeImm(APIC + 0x3e0, 0), ...asm.storeImm(APIC + 0x320, 0x30), // divide by 2, one-shot
    ...asm.storeImm(APIC + 0x380, 1000), ...asm.sti(), ...eoiLoop(0),
  ]], { clock: time.clock });
  host.runVcpu(100);
  assert.equal(reg(host, "apic.timer_deadline"), time.now + 2000);
  time.now += 500;
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), []);
  host.setState([{ tag: REG.rip, value: BigInt(at(0, CODE_AT + 200)) }]);
  host.ram.set([...asm.loadEax(APIC + 0x390), ...asm.storeEax(OUT), ...asm.loopBack(10)], at(0, CODE_AT + 200));
  host.runVcpu(10);
  assert.equal(word(host.ram, OUT), 750);
  // Divide by 1 from here: the 750 counts left take 750 ns, not 1500.
  host.setState([{ tag: REG.rip, value: BigInt(at(0, CODE_AT + 300)) }]);
  host.ram.set([...asm.storeImm(APIC + 0x3e0, 0xb), ...asm.loadEax(APIC + 0x390), ...asm.storeEax(OUT), ...asm.loopBack(0)], at(0, CODE_AT + 300));
  host.runVcpu(10);
  assert.equal(word(host.ram, OUT), 750);
  assert.equal(reg(host, "apic.timer_deadline"), time.now + 750);
  time.now += 749;
  host.runVcpu(10);
  assert.deepEqual(log(host.ram), []);
  time.now += 1;
  host.runVcpu(10);
  assert.deepEqual(log(host.ram), [0x30]);
  assert.equal(reg(host, "apic.timer_deadline"), 0);
});

test("timer periodic: reloads, and periods nobody saw are one interrupt", () => {
  const time = testClock();
  const host = machine([[
    ...enableApic(), ...asm.storeImm(APIC + 0x3e0, 0xb), ...asm.storeImm(APIC + 0x320, 0x20031), // divide by 1, periodic
    ...asm.storeImm(APIC + 0x380, 1000), ...asm.sti(), ...eoiLoop(0),
  ]], { clock: time.clock });
  host.runVcpu(100);
  const start = time.now;
  time.now += 1000;
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x31]);
  time.now += 3500;
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x31, 0x31]);
  assert.equal(reg(host, "apic.timer_deadline"), start + 5000);
});

test("TSC-deadline: fires when the TSC reaches IA32_TSC_DEADLINE, which then reads 0", () => {
  const time = testClock();
  const host = machine([[
    ...enableApic(), ...asm.storeImm(APIC + 0x320, 0x40032),
    ...asm.movEcxImm(0x6e0), ...asm.movEaxImm(time.now + 500), ...asm.movEdxImm(0), ...asm.wrmsr(),
    ...asm.storeImm(APIC + 0x380, 7), // ignored in TSC-deadline mode
    ...asm.sti(), ...eoiLoop(0),
  ]], { clock: time.clock });
  host.runVcpu(100);
  assert.equal(reg(host, "tsc_deadline"), time.now + 500);
  assert.equal(reg(host, "apic.initial_count"), 0);
  time.now += 499;
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), []);
  time.now += 1;
  host.runVcpu(100);
  assert.deepEqual(log(host.ram), [0x32]);
  assert.equal(reg(host, "tsc_deadline"), 0);
});

test("LINT0 in ExtINT mode runs the INTA cycle for the 8259's vector; LINT1 as NMI blocks NMIs until IRET", () => {
  let acknowledged = 0;
  const host = machine([[
    ...enableApic(), ...asm.storeImm(APIC + 0x350, 0x700), ...asm.storeImm(APIC + 0x360, 0x400), ...asm.sti(), ...eoiLoop(0),
  ]], { waitGo: [2], acknowledgeExtInt: () => (acknowledged++, setExtIntLevel(host.memory, 0, false), 0x68) });
  host.runVcpu(50);
  setExtIntLevel(host.memory, 0, true);
  host.runVcpu(50);
  assert.equal(acknowledged, 1);
  assert.deepEqual(log(host.ram), [0x68]);
  pulseLint1(host.memory, 0);
  host.runVcpu(50);
  deliverNmi(host.memory, 0);
  host.runVcpu(50);
  assert.deepEqual(log(host.ram), [0x68, 2], "the second NMI waits for the first one's IRET");
  assert.equal(reg(host, "apic.nmi"), 3, "pending and blocked");
  go(host);
  host.runVcpu(50);
  assert.deepEqual(log(host.ram), [0x68, 2, 2]);
});

test("the owner's injected interrupt and pending exception both end the HLT state", () => {
  const host = machine([[...enableApic(), ...asm.sti(), ...asm.hlt(), ...asm.loopBack(0)]]);
  assert.equal(host.runVcpu(100), "halted");
  host.setState([{ tag: REG.pending_interrupt, value: 0x100 | 0x70 }]);
  assert.equal(host.runVcpu(100), undefined, "runs on after the HLT");
  assert.deepEqual(log(host.ram), [0x70]);
  host.setState([{ tag: REG.rip, value: CODE_AT + 11 }]); // the HLT again
  assert.equal(host.runVcpu(100), "halted");
  host.setState([{ tag: REG.pending_exception, value: 0x100 | 6 }]);
  assert.equal(host.runVcpu(100), undefined);
  assert.deepEqual(log(host.ram), [0x70, 6]);
  assert.equal(reg(host, "apic.activity"), 0);
});

test("a hidden APIC: no CPUID flag, its MSR is #GP, its page is not claimed, HLT exits", () => {
  const program = [...asm.movEaxImm(1), ...asm.cpuid(), ...asm.storeEdx(OUT), ...asm.loadEax(APIC + 0x30), ...asm.movEcxImm(0x1b)];
  const host = machine([[...program, ...asm.rdmsr(), ...asm.hlt()]]);
  host.setState([{ tag: REG["apic.hidden"], value: 1 }, { tag: REG.exception_exits, value: 1 << 13 }]);
  assert.deepEqual(host.runVcpu(100), { reason: "exception", vector: 13, errorCode: 0, rip: CODE_AT + program.length }, "RDMSR 1Bh is #GP(0)");
  assert.equal(word(host.ram, OUT) & (1 << 9), 0);
  assert.deepEqual(host.io.map((r) => r.address), [APIC + 0x30], "the APIC page went to the memory map");
  host.setState([{ tag: REG.rip, value: CODE_AT + program.length + 2 }]);
  assert.deepEqual(host.runVcpu(100), { reason: "hlt" });
});

/** Polls until `done()` or two seconds pass. */
async function eventually(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
}

test("in vCPU workers, an IPI from one core wakes another sleeping in HLT", async () => {
  const vm = await testVm({ localApic: true });
  const halt = [...asm.hlt(), ...asm.loopBack(1)];
  const sender = await vm.createVcpu();
  const receiver = await vm.createVcpu();
  sender.setState(setUp(vm.ram, 0, [...enableApic(), ...asm.storeImm(APIC + 0x310, 1 << 24), ...asm.storeImm(APIC + 0x300, 0x4050), ...halt]));
  receiver.setState(setUp(vm.ram, 1, [...enableApic(), ...asm.sti(), ...halt]));
  receiver.run().catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(log(vm.ram, 1), []);
  sender.run().catch(() => undefined);
  await eventually(() => log(vm.ram, 1).length > 0);
  assert.deepEqual(log(vm.ram, 1), [0x50]);
  await Promise.all([sender.pause(), receiver.pause()]);
});

test("in a vCPU worker, an ExtINT's INTA cycle is an exit the owner answers with the vector", async () => {
  const vm = await testVm({ localApic: true });
  const vcpu = await vm.createVcpu();
  const halt = [...asm.hlt(), ...asm.loopBack(1)];
  vcpu.setState(setUp(vm.ram, 0, [...enableApic(), ...asm.storeImm(APIC + 0x350, 0x700), ...asm.sti(), ...halt]));
  const exit = vcpu.run();
  setExtIntLevel(vm.memory, 0, true);
  assert.deepEqual(await exit, { reason: "interrupt-acknowledge" });
  setExtIntLevel(vm.memory, 0, false);
  vcpu.completeIo(0x68);
  const running = vcpu.run();
  running.catch(() => undefined);
  await eventually(() => log(vm.ram).length > 0);
  assert.deepEqual(log(vm.ram), [0x68]);
  await vcpu.pause();
});

test("in a vCPU worker, HLT sleeps until an interrupt or the timer wakes it; pause still works", async () => {
  const vm = await testVm({ localApic: true });
  const program = [...enableApic(), ...asm.storeImm(APIC + 0x3e0, 0xb), ...asm.sti()];
  const halt = [...asm.hlt(), ...asm.loopBack(1)];
  const vcpu = await vm.createVcpu();
  vcpu.setState(setUp(vm.ram, 0, [...program, ...halt]));
  const running = vcpu.run();
  running.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(log(vm.ram), []);
  deliverFixed(vm.memory, 0, 0x40);
  await eventually(() => log(vm.ram).length > 0);
  assert.deepEqual(log(vm.ram), [0x40]);
  await vcpu.pause();
  const instructions = Number(vcpu.getState([REG.instructions])[0].value);
  assert.ok(instructions < 100, `a halted vCPU retires nothing (${instructions})`);
  assert.equal(Number(vcpu.getState([REG["apic.activity"]])[0].value), 1);
  // One-shot timer, 30 ms at 1 GHz: the worker sleeps until its deadline.
  vcpu.setState([{ tag: REG["apic.lvt_timer"], value: 0x41 }]);
  vm.ram.set([...asm.storeImm(APIC + 0x380, 30_000_000), ...halt], CODE_AT + 0x300);
  // The vCPU is still in the HLT state: the owner moves it out (as KVM_SET_MP_STATE would).
  vcpu.setState([{ tag: REG.rip, value: CODE_AT + 0x300 }, { tag: REG["apic.activity"], value: 0 }]);
  const armed = Date.now();
  vcpu.resume();
  await eventually(() => log(vm.ram).length === 2);
  assert.deepEqual(log(vm.ram), [0x40, 0x41]);
  assert.ok(Date.now() - armed >= 25, "not before the deadline");
  await vcpu.pause();
  assert.ok(Number(vcpu.getState([REG.instructions])[0].value) < instructions + 100);
});
