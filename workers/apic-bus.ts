/**
 * The APIC bus as a sender sees it: messages to a vCPU's local APIC from device workers (an
 * IOAPIC, MSIs), the chipset (the 8259's INT on LINT0) and the owner. Each sets bits in the
 * vCPU block's inbox with an atomic OR, then kicks: REQ_KICK makes a running vCPU take its inbox
 * at the next instruction boundary, and a notify wakes one sleeping in HLT (only when it says it
 * sleeps, so a busy sender makes no notify calls). The core's ICR sends IPIs the same way
 * (assembly/apic/ipi.ts). Works from any thread that holds the VM's memory.
 */
import {
  APIC_EVENT_INIT, APIC_EVENT_LINT1, APIC_EVENT_NMI, APIC_EVENT_SIPI, APIC_EXTINT_LEVEL_U32, APIC_INBOX_EVENTS_U32,
  APIC_INBOX_IRR_U32, APIC_INBOX_SIPI_U32, APIC_INBOX_TMR_U32, APIC_REG_DFR, APIC_REG_ID, APIC_REG_LDR, APIC_REGS_BASE,
  APIC_SLEEPING_U32, MAX_VCPUS, REQ_KICK, VCPU_MAGIC, VCPU_MAGIC_U32, VCPU_REQUEST_U32, VMH_BASE, VMH_MAX_VCPUS_U32,
} from "../assembly/abi/layout";
import { vcpuBlockBase } from "./vm-layout";

const views = new WeakMap<WebAssembly.Memory, Int32Array>();

function wordsOf(memory: WebAssembly.Memory): Int32Array {
  let words = views.get(memory);
  if (!words) views.set(memory, (words = new Int32Array(memory.buffer)));
  return words;
}

function blockOf(vcpuIndex: number): number {
  if (!Number.isInteger(vcpuIndex) || vcpuIndex < 0 || vcpuIndex >= MAX_VCPUS) throw new RangeError(`vCPU index must be 0..${MAX_VCPUS - 1}, got ${vcpuIndex}`);
  return vcpuBlockBase(vcpuIndex);
}

function checkVector(vector: number): void {
  if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`interrupt vector must be 0..255, got ${vector}`);
}

/** Makes the vCPU at `block` look at its inbox soon. */
function kick(words: Int32Array, block: number): void {
  Atomics.or(words, (block + VCPU_REQUEST_U32) >> 2, REQ_KICK);
  if (Atomics.load(words, (block + APIC_SLEEPING_U32) >> 2) !== 0) Atomics.notify(words, (block + VCPU_REQUEST_U32) >> 2);
}

function postEvent(memory: WebAssembly.Memory, vcpuIndex: number, event: number): void {
  const words = wordsOf(memory);
  const block = blockOf(vcpuIndex);
  Atomics.or(words, (block + APIC_INBOX_EVENTS_U32) >> 2, event);
  kick(words, block);
}

/**
 * A fixed interrupt with `vector` for vCPU `vcpuIndex`'s APIC. `level`: level-triggered, so the
 * APIC sets its TMR bit and broadcasts its EOI to the IOAPIC (a posted write of the vector to
 * IOAPIC_EOI_GPA). An APIC that is hidden, disabled or software-disabled drops it; vectors 0-15
 * are illegal and logged in its ESR (SDM vol. 3, 11.5.3).
 */
export function deliverFixed(memory: WebAssembly.Memory, vcpuIndex: number, vector: number, level = false): void {
  checkVector(vector);
  const words = wordsOf(memory);
  const block = blockOf(vcpuIndex);
  const word = vector >> 5;
  const bit = 1 << (vector & 31);
  // The TMR bit goes first: the core takes IRR bits, then the TMR bits of those.
  if (level) Atomics.or(words, ((block + APIC_INBOX_TMR_U32) >> 2) + word, bit);
  else Atomics.and(words, ((block + APIC_INBOX_TMR_U32) >> 2) + word, ~bit);
  Atomics.or(words, ((block + APIC_INBOX_IRR_U32) >> 2) + word, bit);
  kick(words, block);
}

/**
 * A message on the APIC bus as an I/O APIC (or an MSI) sends it; the I/O APIC model's
 * `InterruptMessage` is one. Delivery modes as in its redirection entries: 0 fixed, 1 lowest
 * priority, 4 NMI, 5 INIT (2 SMI and 7 ExtINT are not modelled and dropped).
 */
export interface ApicMessage {
  /** APIC ID (physical) or logical destination bits; 0xFF is a broadcast. */
  destination: number;
  destMode: "physical" | "logical";
  deliveryMode: number;
  vector: number;
  trigger: "edge" | "level";
}

/** Whether the APIC in `block` is selected by `destination` (SDM vol. 3, 11.6.2). */
function selects(words: Int32Array, block: number, destination: number, logical: boolean): boolean {
  if (destination === 0xff) return true;
  const reg = (offset: number): number => Atomics.load(words, (block + APIC_REGS_BASE + offset) >> 2) >>> 0;
  if (!logical) return reg(APIC_REG_ID) >>> 24 === destination;
  const ldr = reg(APIC_REG_LDR) >>> 24;
  // DFR bits 28-31: 1111b flat model (a bit per APIC), 0000b cluster model (cluster, then bits).
  if (reg(APIC_REG_DFR) >>> 28 === 0xf) return (ldr & destination) !== 0;
  return ldr >>> 4 === destination >>> 4 && (ldr & destination & 0xf) !== 0;
}

/**
 * Delivers `message` to every vCPU whose local APIC its destination selects, by the APIC IDs and
 * logical destinations the guest programmed. Lowest priority goes to the first APIC selected
 * (the arbitration among several is model-specific).
 */
export function deliverMessage(memory: WebAssembly.Memory, message: ApicMessage): void {
  const words = wordsOf(memory);
  const count = Atomics.load(words, (VMH_BASE + VMH_MAX_VCPUS_U32) >> 2);
  for (let index = 0; index < count; index++) {
    const block = vcpuBlockBase(index);
    if (Atomics.load(words, (block + VCPU_MAGIC_U32) >> 2) !== VCPU_MAGIC) continue;
    if (!selects(words, block, message.destination, message.destMode === "logical")) continue;
    switch (message.deliveryMode) {
      case 0: case 1: deliverFixed(memory, index, message.vector, message.trigger === "level"); break;
      case 4: deliverNmi(memory, index); break;
      case 5: deliverInit(memory, index); break;
      default: return;
    }
    if (message.deliveryMode === 1) return;
  }
}

/** An NMI message: vector 2, blocked from the next one until the handler's IRET. */
export function deliverNmi(memory: WebAssembly.Memory, vcpuIndex: number): void {
  postEvent(memory, vcpuIndex, APIC_EVENT_NMI);
}

/** An INIT message (recorded in `apic.init_count` for SMP start-up; it does not reset the vCPU yet). */
export function deliverInit(memory: WebAssembly.Memory, vcpuIndex: number): void {
  postEvent(memory, vcpuIndex, APIC_EVENT_INIT);
}

/** A start-up message (recorded in `apic.sipi` as vector | 0x100 for SMP start-up). */
export function deliverStartup(memory: WebAssembly.Memory, vcpuIndex: number, vector: number): void {
  checkVector(vector);
  Atomics.store(wordsOf(memory), (blockOf(vcpuIndex) + APIC_INBOX_SIPI_U32) >> 2, vector);
  postEvent(memory, vcpuIndex, APIC_EVENT_SIPI);
}

/** An edge on the LINT1 pin: delivered as the LVT LINT1 entry says (an NMI, as firmware sets it up). */
export function pulseLint1(memory: WebAssembly.Memory, vcpuIndex: number): void {
  postEvent(memory, vcpuIndex, APIC_EVENT_LINT1);
}

/**
 * The 8259's INT output as vCPU `vcpuIndex` sees it on LINT0 (its INTR pin while the APIC is
 * hidden or disabled). While it is high and LINT0 is an unmasked ExtINT entry, the vCPU runs the
 * INTA cycle (the core's env.acknowledgeExtInt) when IF allows, to get the vector.
 */
export function setExtIntLevel(memory: WebAssembly.Memory, vcpuIndex: number, high: boolean): void {
  const words = wordsOf(memory);
  const block = blockOf(vcpuIndex);
  Atomics.store(words, (block + APIC_EXTINT_LEVEL_U32) >> 2, high ? 1 : 0);
  if (high) kick(words, block);
}
