/**
 * The register catalogue behind the tag/value state accessors: each row names a register, its
 * tag, size, access attributes and where it lives in the vCPU block. A tag encodes its set and
 * size, so a batch of (tag, value) pairs describes itself. Tags are ABI: append, never renumber.
 */
import {
  APIC_ACTIVITY_U32, APIC_BASE_MSR_U64, APIC_ESR_PENDING_U32, APIC_EXTINT_LEVEL_U32, APIC_HIDDEN_U32, APIC_INIT_U32,
  APIC_NMI_U32, APIC_REG_DFR, APIC_REG_ESR, APIC_REG_ICR_HIGH, APIC_REG_ICR_LOW, APIC_REG_ID, APIC_REG_IRR,
  APIC_REG_ISR, APIC_REG_LDR, APIC_REG_LVT_ERROR, APIC_REG_LVT_LINT0, APIC_REG_LVT_LINT1, APIC_REG_LVT_PERF,
  APIC_REG_LVT_THERMAL, APIC_REG_LVT_TIMER, APIC_REG_SVR, APIC_REG_TIMER_DIVIDE, APIC_REG_TIMER_INITIAL, APIC_REG_TMR,
  APIC_REG_TPR, APIC_REG_VERSION, APIC_REGS_BASE, APIC_SIPI_U32, APIC_TIMER_DEADLINE_U64, APIC_TIMER_START_U64,
  APIC_TSC_DEADLINE_U64,
  REG_EFER_U32, REG_KVM_SYSTEM_TIME_U64, REG_KVM_WALL_CLOCK_U64, REG_PENDING_ERROR_CODE_U32, REG_PENDING_EXCEPTION_U32, FPU_CW_U16, FPU_FCS_U16, FPU_FDP_U32, FPU_FDS_U16, FPU_FIP_U32, FPU_FOP_U16, FPU_REG_BASE, FPU_REG_SIGN_EXP_U16,
  FPU_REG_SIGNIFICAND_U64, FPU_REG_SIZE, FPU_SW_U16, FPU_TW_U16, REG_INJECT_U32, REG_INTERRUPT_SHADOW_U32, REG_SYSENTER_CS_U32, REG_SYSENTER_EIP_U32, REG_SYSENTER_ESP_U32,
  VCPU_EXCEPTION_EXITS_U32, VCPU_INTERPRET_ONLY_U32, VCPU_JIT_THRESHOLD_U32, REG_CR_U64, REG_DR_U64, REG_GDTR_BASE_U64, REG_GDTR_LIMIT_U32, REG_GPR_U64, REG_IDTR_BASE_U64,
  REG_IDTR_LIMIT_U32, REG_RFLAGS_U64, REG_RIP_U64, REG_SEG_BASE, RUN_INSN_COUNT_U64, SEG_ATTRS_U16,
  SEG_BASE_U64, SEG_LIMIT_U32, SEG_SELECTOR_U16, SEG_SIZE,
} from "../assembly/abi/layout";

/** Register sets, the high byte of a tag ("counter" holds the VM's own per-vCPU controls and counts). */
export const RegisterSet = { gpr: 1, control: 2, segment: 3, cr: 4, counter: 5, dr: 6, table: 7, msr: 8, events: 9, fpu: 10, apic: 11 } as const;

/** rw: guest and host write it; ro: nobody writes it through the API; guest-ro: host-only writes. */
export type RegisterAccess = "rw" | "ro" | "guest-ro";

/** One row of the catalogue. */
export interface RegisterInfo {
  name: string;
  /** (set << 24) | (log2(bytes) << 16) | number */
  tag: number;
  bytes: 1 | 2 | 4 | 8;
  access: RegisterAccess;
  /** Byte offset in the vCPU block. */
  offset: number;
}

/** A register value in a batch. */
export interface RegisterEntry { tag: number; value: bigint }

/** An unknown tag, a write to a read-only register, or a value that does not fit. */
export class RegisterError extends Error {
  constructor(message: string, readonly tag: number) {
    super(message);
    this.name = "RegisterError";
  }
}

const makeTag = (set: number, bytes: number, number: number): number => ((set << 24) | (Math.log2(bytes) << 16) | number) >>> 0;

const row = (name: string, set: number, number: number, bytes: RegisterInfo["bytes"], offset: number, access: RegisterAccess = "rw"): RegisterInfo =>
  ({ name, tag: makeTag(set, bytes, number), bytes, access, offset });

const GPR_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"];

/** The APIC's stored registers, numbered by xAPIC offset / 16 (PPR, APR, the current count are computed on reads of the page). */
const APIC_REGISTERS: [string, number][] = [
  ["id", APIC_REG_ID], ["version", APIC_REG_VERSION], ["tpr", APIC_REG_TPR], ["ldr", APIC_REG_LDR], ["dfr", APIC_REG_DFR],
  ["svr", APIC_REG_SVR],
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((n): [string, number][] => [[`isr${n}`, APIC_REG_ISR + n * 16], [`tmr${n}`, APIC_REG_TMR + n * 16], [`irr${n}`, APIC_REG_IRR + n * 16]]),
  ["esr", APIC_REG_ESR], ["icr_low", APIC_REG_ICR_LOW], ["icr_high", APIC_REG_ICR_HIGH], ["lvt_timer", APIC_REG_LVT_TIMER],
  ["lvt_thermal", APIC_REG_LVT_THERMAL], ["lvt_perf", APIC_REG_LVT_PERF], ["lvt_lint0", APIC_REG_LVT_LINT0],
  ["lvt_lint1", APIC_REG_LVT_LINT1], ["lvt_error", APIC_REG_LVT_ERROR], ["initial_count", APIC_REG_TIMER_INITIAL],
  ["divide_config", APIC_REG_TIMER_DIVIDE],
];
const SEG_NAMES = ["es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"];

/** Every register the accessors know. */
export const REGISTERS: readonly RegisterInfo[] = [
  ...GPR_NAMES.map((name, i) => row(name, RegisterSet.gpr, i, 8, REG_GPR_U64 + i * 8)),
  row("rip", RegisterSet.control, 0, 8, REG_RIP_U64),
  row("rflags", RegisterSet.control, 1, 8, REG_RFLAGS_U64),
  ...SEG_NAMES.flatMap((seg, i) => {
    const at = REG_SEG_BASE + i * SEG_SIZE;
    return [
      row(`${seg}.selector`, RegisterSet.segment, i * 4, 2, at + SEG_SELECTOR_U16),
      row(`${seg}.base`, RegisterSet.segment, i * 4 + 1, 8, at + SEG_BASE_U64),
      row(`${seg}.limit`, RegisterSet.segment, i * 4 + 2, 4, at + SEG_LIMIT_U32),
      row(`${seg}.attrs`, RegisterSet.segment, i * 4 + 3, 2, at + SEG_ATTRS_U16),
    ];
  }),
  ...[0, 2, 3, 4].map((n) => row(`cr${n}`, RegisterSet.cr, n, 8, REG_CR_U64 + n * 8)),
  row("instructions", RegisterSet.counter, 0, 8, RUN_INSN_COUNT_U64, "ro"),
  ...[0, 1, 2, 3, 6, 7].map((n) => row(`dr${n}`, RegisterSet.dr, n, 8, REG_DR_U64 + n * 8)),
  row("gdtr.base", RegisterSet.table, 0, 8, REG_GDTR_BASE_U64),
  row("gdtr.limit", RegisterSet.table, 1, 4, REG_GDTR_LIMIT_U32),
  row("idtr.base", RegisterSet.table, 2, 8, REG_IDTR_BASE_U64),
  row("idtr.limit", RegisterSet.table, 3, 4, REG_IDTR_LIMIT_U32),
  // Vectors (bit n for vector n) that stop the vCPU with an "exception" exit instead of reaching the guest.
  row("exception_exits", RegisterSet.counter, 1, 4, VCPU_EXCEPTION_EXITS_U32, "guest-ro"),
  // Non-zero: every instruction goes through the interpreter, none through decoded blocks (for tests).
  row("interpret_only", RegisterSet.counter, 2, 4, VCPU_INTERPRET_ONLY_U32, "guest-ro"),
  // Runs of a decoded block before it is compiled to WASM; 0: never (the vCPU worker sets it when it can compile).
  row("jit_threshold", RegisterSet.counter, 3, 4, VCPU_JIT_THRESHOLD_U32, "guest-ro"),
  // MSRs, numbered by their MSR index (C000_xxxxh ones as 8000h | xxxx).
  row("sysenter_cs", RegisterSet.msr, 0x174, 4, REG_SYSENTER_CS_U32),
  row("sysenter_esp", RegisterSet.msr, 0x175, 4, REG_SYSENTER_ESP_U32),
  row("sysenter_eip", RegisterSet.msr, 0x176, 4, REG_SYSENTER_EIP_U32),
  row("efer", RegisterSet.msr, 0x8080, 4, REG_EFER_U32),
  // kvmclock's MSRs (4B564D0xh, numbered 4D00h | x): the guest physical addresses of its structures.
  row("kvm_wall_clock", RegisterSet.msr, 0x4d00, 8, REG_KVM_WALL_CLOCK_U64),
  row("kvm_system_time", RegisterSet.msr, 0x4d01, 8, REG_KVM_SYSTEM_TIME_U64),
  row("apic_base", RegisterSet.msr, 0x1b, 8, APIC_BASE_MSR_U64),
  row("tsc_deadline", RegisterSet.msr, 0x6e0, 8, APIC_TSC_DEADLINE_U64),
  // Event state: the interrupt shadow, and an injected external interrupt (vector | 0x100) not yet taken.
  row("interrupt_shadow", RegisterSet.events, 0, 4, REG_INTERRUPT_SHADOW_U32),
  row("pending_interrupt", RegisterSet.events, 1, 4, REG_INJECT_U32, "guest-ro"),
  // An exception raised at the next run() (vector | 0x100, | 0x200 with the error code below).
  row("pending_exception", RegisterSet.events, 2, 4, REG_PENDING_EXCEPTION_U32, "guest-ro"),
  row("pending_error_code", RegisterSet.events, 3, 4, REG_PENDING_ERROR_CODE_U32, "guest-ro"),
  // x87: control, status (with TOP) and full tag words, the last-instruction pointers, and the
  // eight physical registers R0-R7 as significand and sign/exponent.
  row("fpu.cw", RegisterSet.fpu, 0, 2, FPU_CW_U16),
  row("fpu.sw", RegisterSet.fpu, 1, 2, FPU_SW_U16),
  row("fpu.tw", RegisterSet.fpu, 2, 2, FPU_TW_U16),
  row("fpu.fop", RegisterSet.fpu, 3, 2, FPU_FOP_U16),
  row("fpu.fip", RegisterSet.fpu, 4, 4, FPU_FIP_U32),
  row("fpu.fcs", RegisterSet.fpu, 5, 2, FPU_FCS_U16),
  row("fpu.fdp", RegisterSet.fpu, 6, 4, FPU_FDP_U32),
  row("fpu.fds", RegisterSet.fpu, 7, 2, FPU_FDS_U16),
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((n) => [
    row(`fpu.r${n}.significand`, RegisterSet.fpu, 0x10 + 2 * n, 8, FPU_REG_BASE + n * FPU_REG_SIZE + FPU_REG_SIGNIFICAND_U64),
    row(`fpu.r${n}.sign_exponent`, RegisterSet.fpu, 0x11 + 2 * n, 2, FPU_REG_BASE + n * FPU_REG_SIZE + FPU_REG_SIGN_EXP_U16),
  ]),
  // The local APIC: its register image, then its state beyond it (numbers from 100h): errors not yet
  // latched into the ESR, the timer's start and deadline (host ns), the HLT state, NMI pending and
  // blocked bits, INIT and start-up IPIs received, and the owner's switches: hide the APIC, the
  // 8259's INT level.
  ...APIC_REGISTERS.map(([name, offset]) => row(`apic.${name}`, RegisterSet.apic, offset >> 4, 4, APIC_REGS_BASE + offset)),
  row("apic.esr_pending", RegisterSet.apic, 0x100, 4, APIC_ESR_PENDING_U32),
  row("apic.timer_start", RegisterSet.apic, 0x101, 8, APIC_TIMER_START_U64),
  row("apic.timer_deadline", RegisterSet.apic, 0x102, 8, APIC_TIMER_DEADLINE_U64),
  row("apic.activity", RegisterSet.apic, 0x103, 4, APIC_ACTIVITY_U32),
  row("apic.nmi", RegisterSet.apic, 0x104, 4, APIC_NMI_U32),
  row("apic.init_count", RegisterSet.apic, 0x105, 4, APIC_INIT_U32),
  row("apic.sipi", RegisterSet.apic, 0x106, 4, APIC_SIPI_U32),
  row("apic.hidden", RegisterSet.apic, 0x107, 4, APIC_HIDDEN_U32, "guest-ro"),
  row("apic.extint_level", RegisterSet.apic, 0x108, 4, APIC_EXTINT_LEVEL_U32, "guest-ro"),
];

const BY_TAG = new Map(REGISTERS.map((r) => [r.tag, r]));

/** Tags by register name, e.g. `REG.rip`. */
export const REG: Readonly<Record<string, number>> = Object.fromEntries(REGISTERS.map((r) => [r.name, r.tag]));

/** Looks up a tag; throws a RegisterError for one that does not exist. */
export function registerInfo(tag: number): RegisterInfo {
  const info = BY_TAG.get(tag);
  if (!info) throw new RegisterError(`no register has tag 0x${(tag >>> 0).toString(16)}`, tag);
  return info;
}

/** Reads the registers named by `tags` from the vCPU block at `block`. */
export function readRegisters(buffer: ArrayBufferLike, block: number, tags: readonly number[]): RegisterEntry[] {
  const infos = tags.map(registerInfo);
  const view = new DataView(buffer, block);
  return infos.map((r) => ({ tag: r.tag, value: readField(view, r) }));
}

function readField(view: DataView, r: RegisterInfo): bigint {
  switch (r.bytes) {
    case 1: return BigInt(view.getUint8(r.offset));
    case 2: return BigInt(view.getUint16(r.offset, true));
    case 4: return BigInt(view.getUint32(r.offset, true));
    case 8: return view.getBigUint64(r.offset, true);
  }
}

/** Writes a batch: every entry is checked first, so a bad entry changes nothing. */
export function writeRegisters(buffer: ArrayBufferLike, block: number, entries: readonly { tag: number; value: bigint | number }[]): void {
  const checked = entries.map(({ tag, value }) => {
    const r = registerInfo(tag);
    if (r.access === "ro") throw new RegisterError(`${r.name} is read-only`, tag);
    const big = typeof value === "bigint" ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
    if (big < 0n || big >= 1n << BigInt(r.bytes * 8)) throw new RegisterError(`${String(value)} does not fit ${r.name} (${r.bytes} bytes)`, tag);
    return [r, big] as const;
  });
  const view = new DataView(buffer, block);
  for (const [r, value] of checked) {
    switch (r.bytes) {
      case 1: view.setUint8(r.offset, Number(value)); break;
      case 2: view.setUint16(r.offset, Number(value), true); break;
      case 4: view.setUint32(r.offset, Number(value), true); break;
      case 8: view.setBigUint64(r.offset, value, true); break;
    }
  }
}

/** One segment register's four fields. */
function segment(name: string, selector: number, base: number, limit: number, attrs: number): RegisterEntry[] {
  return [
    { tag: REG[`${name}.selector`], value: BigInt(selector) },
    { tag: REG[`${name}.base`], value: BigInt(base) },
    { tag: REG[`${name}.limit`], value: BigInt(limit) },
    { tag: REG[`${name}.attrs`], value: BigInt(attrs) },
  ];
}

/** Segment attributes: present, accessed code (execute/read) and data (read/write). */
const ATTR_CODE = 0x9b;
const ATTR_DATA = 0x93;
/** Granularity (4 KiB) and D/B (32-bit) bits. */
const ATTR_FLAT = 0xc000;

/**
 * The state of a vCPU after RESET (Intel SDM vol. 3, 10.1.1 "Processor State after Reset"): real
 * mode, CS:IP = F000:FFF0 with CS base FFFF0000, data segments at 0 with 64 KiB limits, GDTR and
 * IDTR at 0 with limit FFFF, LDTR and TR present with limit FFFF, CR0 = 60000010h, EFLAGS = 2,
 * DR6 = FFFF0FF0h, DR7 = 400h; the x87 in its FNINIT state.
 */
export function resetState(): RegisterEntry[] {
  return [
    ...GPR_NAMES.map((name) => ({ tag: REG[name], value: 0n })),
    { tag: REG.rip, value: 0xfff0n },
    { tag: REG.rflags, value: 2n },
    ...SEG_NAMES.flatMap((seg) =>
      seg === "cs" ? segment(seg, 0xf000, 0xffff0000, 0xffff, ATTR_CODE)
        : seg === "ldtr" ? segment(seg, 0, 0, 0xffff, 0x82)
        : seg === "tr" ? segment(seg, 0, 0, 0xffff, 0x8b)
        : segment(seg, 0, 0, 0xffff, ATTR_DATA)),
    { tag: REG.cr0, value: 0x60000010n },
    { tag: REG.cr2, value: 0n },
    { tag: REG.cr3, value: 0n },
    { tag: REG.cr4, value: 0n },
    ...[0, 1, 2, 3].map((n) => ({ tag: REG[`dr${n}`], value: 0n })),
    { tag: REG.dr6, value: 0xffff0ff0n },
    { tag: REG.dr7, value: 0x400n },
    { tag: REG["gdtr.base"], value: 0n },
    { tag: REG["gdtr.limit"], value: 0xffffn },
    { tag: REG["idtr.base"], value: 0n },
    { tag: REG["idtr.limit"], value: 0xffffn },
    // The x87 as FNINIT leaves it (firmware and Linux run FNINIT before any other FPU use).
    { tag: REG["fpu.cw"], value: 0x37fn },
    { tag: REG["fpu.tw"], value: 0xffffn },
    ...["fpu.sw", "fpu.fop", "fpu.fip", "fpu.fcs", "fpu.fdp", "fpu.fds"].map((name) => ({ tag: REG[name], value: 0n })),
  ];
}

/**
 * Flat 32-bit protected mode as the Linux 32-bit boot protocol enters a kernel
 * (Documentation/arch/x86/boot.rst, "32-bit Boot Protocol"): CS = 0x10 and DS = ES = SS = 0x18,
 * all 4 GiB flat from base 0, CR0.PE set, paging and interrupts off, RIP at `entry`.
 */
export function flatProtectedMode(entry: number): RegisterEntry[] {
  return [
    ...segment("cs", 0x10, 0, 0xffffffff, ATTR_FLAT | ATTR_CODE),
    ...["ds", "es", "ss", "fs", "gs"].flatMap((name) => segment(name, 0x18, 0, 0xffffffff, ATTR_FLAT | ATTR_DATA)),
    { tag: REG.cr0, value: 0x60000011n },
    { tag: REG.rip, value: BigInt(entry) },
  ];
}
