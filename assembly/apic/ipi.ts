// Interprocessor interrupts (SDM vol. 3, 11.6): a write of the ICR's low half sends the message
// it describes to the APICs its destination selects among this VM's vCPU blocks. Every message,
// to this vCPU included, goes through the target's inbox and a kick (the ABI in layout.ts, the
// same one workers/apic-bus.ts gives devices), so a halted target wakes and a running one looks.

import {
  APIC_EVENT_INIT, APIC_EVENT_NMI, APIC_EVENT_SIPI, APIC_INBOX_EVENTS_U32, APIC_INBOX_IRR_U32, APIC_INBOX_SIPI_U32,
  APIC_INBOX_TMR_U32, APIC_REG_DFR, APIC_REG_ICR_HIGH, APIC_REG_ICR_LOW, APIC_REG_ID, APIC_REG_LDR, APIC_REGS_BASE,
  APIC_SLEEPING_U32, REQ_KICK, VCPU_BLOCK_BASE, VCPU_BLOCK_SIZE, VCPU_MAGIC, VCPU_MAGIC_U32, VCPU_REQUEST_U32, VMH_BASE,
  VMH_MAX_VCPUS_U32,
} from "../abi/layout";
import { cpu } from "../cpu/state";
import { apicError, apicReg, ESR_SEND_ILLEGAL_VECTOR } from "./vectors";

/** ICR delivery modes, bits 8-10 (SDM figure 11-12). */
const MODE_FIXED: u32 = 0;
const MODE_LOWEST: u32 = 1;
const MODE_NMI: u32 = 4;
const MODE_INIT: u32 = 5;
const MODE_STARTUP: u32 = 6;
const ICR_LOGICAL: u32 = 1 << 11;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_LEVEL: u32 = 1 << 15;
const SHORTHAND_NONE: u32 = 0;
const SHORTHAND_SELF: u32 = 1;
const SHORTHAND_ALL: u32 = 2;
/** DFR bits 28-31: 1111b flat model, 0000b cluster model (SDM 11.6.2.2). */
const DFR_FLAT: u32 = 0xf;

/** Makes the vCPU of `block` look at its inbox: REQ_KICK, and a notify when it sleeps in HLT. */
function kick(block: usize): void {
  atomic.or<u32>(block + VCPU_REQUEST_U32, REQ_KICK);
  if (atomic.load<u32>(block + APIC_SLEEPING_U32) != 0) atomic.notify(block + VCPU_REQUEST_U32);
}

/** Posts fixed interrupt `vector` to the inbox of `block` (the TMR bit first, for a level one). */
function postFixed(block: usize, vector: u32, level: bool): void {
  const word: usize = <usize>(vector >> 5) << 2;
  const bit: u32 = 1 << (vector & 31);
  if (level) atomic.or<u32>(block + APIC_INBOX_TMR_U32 + word, bit);
  else atomic.and<u32>(block + APIC_INBOX_TMR_U32 + word, ~bit);
  atomic.or<u32>(block + APIC_INBOX_IRR_U32 + word, bit);
}

/** Whether the APIC of `block` is selected by the destination `dest` (SDM 11.6.2). */
function destinationMatches(block: usize, dest: u32, logical: bool): bool {
  if (dest == 0xff) return true;
  if (!logical) return (load<u32>(block + APIC_REGS_BASE + APIC_REG_ID) >> 24) == dest;
  const ldr = load<u32>(block + APIC_REGS_BASE + APIC_REG_LDR) >> 24;
  if ((load<u32>(block + APIC_REGS_BASE + APIC_REG_DFR) >> 28) == DFR_FLAT) return (ldr & dest) != 0;
  return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf) != 0;
}

/**
 * Sends the IPI the ICR now holds. Delivery is immediate, so the delivery-status bit always
 * reads idle. Lowest-priority messages go to the first APIC selected (arbitration among
 * several is model-specific); SMIs and INIT level de-asserts (Pentium 4 and later do not
 * support them, SDM 11.6.1) are dropped.
 */
export function sendIpi(): void {
  const low = apicReg(APIC_REG_ICR_LOW);
  const mode = (low >> 8) & 7;
  const vector = low & 0xff;
  if (mode == MODE_INIT && (low & ICR_ASSERT) == 0) return;
  if (mode != MODE_FIXED && mode != MODE_LOWEST && mode != MODE_NMI && mode != MODE_INIT && mode != MODE_STARTUP) return;
  if ((mode == MODE_FIXED || mode == MODE_LOWEST) && vector < 16) {
    apicError(ESR_SEND_ILLEGAL_VECTOR);
    return;
  }
  const shorthand = (low >> 18) & 3;
  const dest = apicReg(APIC_REG_ICR_HIGH) >> 24;
  const count = load<u32>(VMH_BASE + VMH_MAX_VCPUS_U32);
  for (let i: u32 = 0; i < count; i++) {
    const block = <usize>VCPU_BLOCK_BASE + <usize>i * <usize>VCPU_BLOCK_SIZE;
    if (atomic.load<u32>(block + VCPU_MAGIC_U32) != VCPU_MAGIC) continue;
    const selected = shorthand == SHORTHAND_NONE ? destinationMatches(block, dest, (low & ICR_LOGICAL) != 0)
      : shorthand == SHORTHAND_SELF ? block == cpu
      : shorthand == SHORTHAND_ALL || block != cpu;
    if (!selected) continue;
    if (mode == MODE_NMI) atomic.or<u32>(block + APIC_INBOX_EVENTS_U32, APIC_EVENT_NMI);
    else if (mode == MODE_INIT) atomic.or<u32>(block + APIC_INBOX_EVENTS_U32, APIC_EVENT_INIT);
    else if (mode == MODE_STARTUP) {
      atomic.store<u32>(block + APIC_INBOX_SIPI_U32, vector);
      atomic.or<u32>(block + APIC_INBOX_EVENTS_U32, APIC_EVENT_SIPI);
    } else postFixed(block, vector, (low & ICR_LEVEL) != 0);
    kick(block);
    if (mode == MODE_LOWEST) return;
  }
}
