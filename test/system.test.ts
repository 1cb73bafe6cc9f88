// System behaviour written from the SDM (vol. 3, chapters 4-6): exception delivery through
// interrupt and trap gates with their stack frames, page faults with CR2 and error codes,
// privilege checks with the stack switch from the TSS, call gates, double and triple faults.
// Each test builds its GDT, IDT, TSS and page tables in guest RAM and runs a few instructions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gpa, ramOffset } from "../workers/addresses";
import { flatProtectedMode, REG } from "../workers/registers";
import { CoreHost } from "./fixtures/core-host";
import {
  CALL_GATE32, CODE, DATA, gateDescriptor, identityPaging, INT_GATE32, PTE_P, PTE_RW, PTE_US, segmentDescriptor,
  setPte, TRAP_GATE32, TSS32, writeTable, writeTss,
} from "./fixtures/x86-tables";

const GDT = 0x1000;
const IDT = 0x2000;
const TSS = 0x2800;
const HANDLER = 0x3000;
const CODE_AT = 0x4000;
const USER_CODE_AT = 0x5000;
const STACK0 = 0x8000;
const STACK3 = 0x9000;
const PAGE_DIR = 0xa000;
const PAGE_TABLE = 0xb000;
// Selectors: 0x08 ring-0 code, 0x10 ring-0 data, 0x1b ring-3 code, 0x23 ring-3 data, 0x28 TSS, 0x30 call gate.
const KCODE = 0x08;
const KDATA = 0x10;
const UCODE = 0x1b;
const UDATA = 0x23;
const TSS_SEL = 0x28;
const GATE_SEL = 0x33;

/** A machine in flat ring-0 protected mode with a GDT, a TSS and an IDT whose gates all lead to HLT at HANDLER. */
function machine(gateType = INT_GATE32): CoreHost {
  const host = new CoreHost();
  host.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: 1 << 20, ramOffset: ramOffset(0) }]);
  writeTable(host.ram, GDT, [
    undefined,
    segmentDescriptor(0, 0xffffffff, CODE, 0),
    segmentDescriptor(0, 0xffffffff, DATA, 0),
    segmentDescriptor(0, 0xffffffff, CODE, 3),
    segmentDescriptor(0, 0xffffffff, DATA, 3),
    segmentDescriptor(TSS, 103, TSS32, 0),
    gateDescriptor(KCODE, HANDLER, CALL_GATE32, 3, 2),
  ]);
  writeTable(host.ram, IDT, Array.from({ length: 64 }, () => gateDescriptor(KCODE, HANDLER, gateType, 0)));
  writeTss(host.ram, TSS, KDATA, STACK0);
  host.ram[HANDLER] = 0xf4; // hlt
  host.setState([
    ...flatProtectedMode(CODE_AT),
    { tag: REG["cs.selector"], value: KCODE },
    ...["ds", "es", "ss", "fs", "gs"].map((s) => ({ tag: REG[`${s}.selector`], value: KDATA })),
    { tag: REG["gdtr.base"], value: GDT }, { tag: REG["gdtr.limit"], value: 7 * 8 - 1 },
    { tag: REG["idtr.base"], value: IDT }, { tag: REG["idtr.limit"], value: 64 * 8 - 1 },
    { tag: REG["tr.selector"], value: TSS_SEL }, { tag: REG["tr.base"], value: TSS }, { tag: REG["tr.limit"], value: 103 }, { tag: REG["tr.attrs"], value: 0x8b },
    { tag: REG.rsp, value: STACK0 },
  ]);
  return host;
}

const reg = (host: CoreHost, name: string): number => Number(host.getState([REG[name]])[0].value);
const stackWords = (host: CoreHost, count: number): number[] => {
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  return Array.from({ length: count }, (_, i) => view.getUint32(reg(host, "rsp") + i * 4, true));
};
const IF = 1 << 9;

test("#DE goes through an interrupt gate: EIP of the DIV, CS, EFLAGS pushed, no error code, IF cleared", () => {
  const host = machine();
  host.ram.set([0xfb, 0x31, 0xc9, 0xf7, 0xf1], CODE_AT); // sti; xor ecx, ecx; div ecx
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rsp"), STACK0 - 12);
  const [eip, cs, eflags] = stackWords(host, 3);
  assert.deepEqual([eip, cs], [CODE_AT + 3, KCODE]);
  assert.ok(eflags & IF, "the pushed EFLAGS has IF from before the fault");
  assert.equal(reg(host, "rflags") & IF, 0, "an interrupt gate clears IF");
});

test("a trap gate leaves IF set", () => {
  const host = machine(TRAP_GATE32);
  host.ram.set([0xfb, 0x31, 0xc9, 0xf7, 0xf1], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rflags") & IF, IF);
});

test("a write to a read-only page faults with CR2 and error code P|W, and nothing is written", () => {
  const host = machine();
  const cr3 = identityPaging(host.ram, PAGE_DIR, PAGE_TABLE, 256, PTE_P | PTE_RW);
  setPte(host.ram, PAGE_TABLE, 0x60, 0x60000 | PTE_P); // read-only page
  host.setState([{ tag: REG.cr3, value: cr3 }, { tag: REG.cr0, value: 0x80010011 }]); // PG, WP, PE
  host.ram.set([0xb8, 0x11, 0x22, 0x33, 0x44, 0xa3, 0x10, 0x00, 0x06, 0x00], CODE_AT); // mov eax, 0x44332211; mov [0x60010], eax
  assert.deepEqual(host.run(100), { reason: "hlt" });
  const [code, eip, cs] = stackWords(host, 3);
  assert.deepEqual([code, eip, cs], [0b011, CODE_AT + 5, KCODE]);
  assert.equal(reg(host, "cr2"), 0x60010);
  assert.deepEqual([...host.ram.subarray(0x60010, 0x60014)], [0, 0, 0, 0]);
});

test("a read of a not-present page faults with error code 0 and sets no accessed bit elsewhere", () => {
  const host = machine();
  const cr3 = identityPaging(host.ram, PAGE_DIR, PAGE_TABLE, 256, PTE_P | PTE_RW);
  setPte(host.ram, PAGE_TABLE, 0x70, 0);
  host.setState([{ tag: REG.cr3, value: cr3 }, { tag: REG.cr0, value: 0x80000011 }]);
  host.ram.set([0xa1, 0x04, 0x00, 0x07, 0x00], CODE_AT); // mov eax, [0x70004]
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0, CODE_AT]);
  assert.equal(reg(host, "cr2"), 0x70004);
  const pte = new DataView(host.ram.buffer, host.ram.byteOffset).getUint32(PAGE_TABLE + 4 * (CODE_AT >> 12), true);
  assert.ok(pte & 0x20, "the code page's PTE got its accessed bit");
});

/** Enters ring 3 at USER_CODE_AT with an IRET frame built on the ring-0 stack. */
function enterUser(host: CoreHost, code: number[]): void {
  host.ram.set(code, USER_CODE_AT);
  // push UDATA; push STACK3; push 0x202 (IF); push UCODE; push USER_CODE_AT; iret
  host.ram.set([0x6a, UDATA, 0x68, ...le32(STACK3), 0x68, ...le32(0x202), 0x6a, UCODE, 0x68, ...le32(USER_CODE_AT), 0xcf], CODE_AT);
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

test("IRET to CPL 3 nulls data segment registers more privileged than CPL 3; using one is #GP(0)", () => {
  const host = machine();
  enterUser(host, [0xa1, 0x00, 0x00, 0x07, 0x00]); // mov eax, [0x70000] through the nulled DS
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "ds.selector"), 0);
  assert.deepEqual(stackWords(host, 2), [0, USER_CODE_AT]);
});

test("HLT at CPL 3 raises #GP(0) on the ring-0 stack from the TSS, with the user SS:ESP pushed", () => {
  const host = machine();
  enterUser(host, [0xf4]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "cs.selector"), KCODE);
  assert.equal(reg(host, "rsp"), STACK0 - 24);
  assert.deepEqual(stackWords(host, 6), [0, USER_CODE_AT, UCODE, 0x202, STACK3, UDATA]);
});

test("INT n through a DPL-0 gate from CPL 3 is #GP(vector * 8 + 2)", () => {
  const host = machine();
  enterUser(host, [0xcd, 0x10]); // int 0x10
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0x10 * 8 + 2, USER_CODE_AT]);
});

test("a call gate from CPL 3 switches to the ring-0 stack and copies its parameters", () => {
  const host = machine();
  // push 0x1111; push 0x2222; call far GATE_SEL:0
  enterUser(host, [0x68, ...le32(0x1111), 0x68, ...le32(0x2222), 0x9a, 0, 0, 0, 0, GATE_SEL, 0]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "cs.selector"), KCODE);
  // EIP, CS, the two parameters, ESP, SS
  assert.deepEqual(stackWords(host, 6), [USER_CODE_AT + 17, UCODE, 0x2222, 0x1111, STACK3 - 8, UDATA]);
});

test("a fault while delivering a fault is a double fault; one more is a triple fault and the vCPU shuts down", () => {
  const host = machine();
  writeTable(host.ram, IDT, Array.from({ length: 64 }, (_, v) => (v === 8 ? gateDescriptor(KCODE, HANDLER, INT_GATE32, 0) : gateDescriptor(0x40, HANDLER, INT_GATE32, 0))));
  host.ram.set([0x0f, 0x0b], CODE_AT); // ud2: #UD's gate names a selector beyond the GDT -> #GP -> #DF
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0, CODE_AT], "#DF pushes error code 0 and the faulting EIP");
  host.setState([{ tag: REG["idtr.limit"], value: 0 }, { tag: REG.rip, value: CODE_AT }, { tag: REG.rsp, value: STACK0 }]);
  assert.deepEqual(host.run(100), { reason: "shutdown" });
});

test("the exception_exits bitmap hands chosen vectors to the owner instead of the guest", () => {
  const host = machine();
  host.setState([{ tag: REG.exception_exits, value: 1 << 6 }]);
  host.ram.set([0x0f, 0x0b], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "exception", vector: 6, rip: CODE_AT });
  assert.equal(reg(host, "rsp"), STACK0);
});

test("an exception taken by an exception exit can be handed on to the guest with pending_exception", () => {
  const host = machine();
  host.setState([{ tag: REG.exception_exits, value: 1 << 13 }]);
  host.ram.set([0xb8, 0, 0, 0, 0, 0x8e, 0xd0], CODE_AT); // mov eax, 0; mov ss, ax (a null SS is #GP(0))
  assert.deepEqual(host.run(100), { reason: "exception", vector: 13, errorCode: 0, rip: CODE_AT + 5 });
  host.setState([{ tag: REG.pending_exception, value: 13 | 0x100 | 0x200 }, { tag: REG.pending_error_code, value: 0 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" }, "delivered to the guest's handler, not exited again");
  assert.deepEqual(stackWords(host, 2), [0, CODE_AT + 5]);
  assert.equal(reg(host, "pending_exception"), 0);
});

test("PTE user bit: CPL 3 reading a supervisor page is a page fault with error code U", () => {
  const host = machine();
  const cr3 = identityPaging(host.ram, PAGE_DIR, PAGE_TABLE, 256, PTE_P | PTE_RW | PTE_US);
  setPte(host.ram, PAGE_TABLE, 0x70, 0x70000 | PTE_P | PTE_RW);
  host.setState([{ tag: REG.cr3, value: cr3 }, { tag: REG.cr0, value: 0x80000011 }]);
  // IRET to ring 3 nulled DS (its DPL 0 is below CPL 3): push UDATA; pop ds; mov eax, [0x70000]
  enterUser(host, [0x6a, UDATA, 0x1f, 0xa1, 0x00, 0x00, 0x07, 0x00]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0b101, USER_CODE_AT + 3]);
  assert.equal(reg(host, "cr2"), 0x70000);
});

test("an exception from CPL 3 pushes its frame on a supervisor-only ring-0 stack: the pushes are ring-0 accesses", () => {
  const host = machine();
  const cr3 = identityPaging(host.ram, PAGE_DIR, PAGE_TABLE, 256, PTE_P | PTE_RW | PTE_US);
  setPte(host.ram, PAGE_TABLE, (STACK0 - 1) >>> 12, (STACK0 - 0x1000) | PTE_P | PTE_RW);
  host.setState([{ tag: REG.cr3, value: cr3 }, { tag: REG.cr0, value: 0x80000011 }]);
  enterUser(host, [0xf4]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "cs.selector"), KCODE);
  assert.deepEqual(stackWords(host, 6), [0, USER_CODE_AT, UCODE, 0x202, STACK3, UDATA]);
});

test("SYSENTER enters flat ring 0 from the SYSENTER MSRs; SYSEXIT returns to ring 3 at EDX with ESP = ECX", () => {
  const host = machine();
  // The SYSENTER layout: KCODE, KDATA, then ring-3 code and data right after (0x18, 0x20).
  host.setState([{ tag: REG.sysenter_cs, value: KCODE }, { tag: REG.sysenter_esp, value: STACK0 - 0x100 }, { tag: REG.sysenter_eip, value: HANDLER + 0x10 }]);
  // Ring 0 at HANDLER + 0x10: mov edx, USER_CODE_AT + 2; mov ecx, STACK3 - 4; sysexit
  host.ram.set([0xba, ...le32(USER_CODE_AT + 2), 0xb9, ...le32(STACK3 - 4), 0x0f, 0x35], HANDLER + 0x10);
  // Ring 3: sysenter; then, back in ring 3, hlt: #GP(0) to the ring-0 HLT with the ring-3 frame.
  enterUser(host, [0x0f, 0x34, 0xf4]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  // SYSENTER cleared IF and SYSEXIT does not set it again.
  assert.deepEqual(stackWords(host, 6), [0, USER_CODE_AT + 2, 0x1b, 0x2, STACK3 - 4, 0x23]);
});

test("RDMSR/WRMSR reach the SYSENTER MSRs; an MSR that does not exist is #GP(0)", () => {
  const host = machine();
  // mov ecx, 0x175; mov eax, 0x1234; wrmsr; xor eax, eax; rdmsr; mov ecx, 0x12345; rdmsr (#GP)
  host.ram.set([0xb9, ...le32(0x175), 0xb8, ...le32(0x1234), 0x0f, 0x30, 0x31, 0xc0, 0x0f, 0x32, 0xb9, ...le32(0x12345), 0x0f, 0x32], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rax"), 0x1234);
  assert.equal(reg(host, "sysenter_esp"), 0x1234);
  assert.deepEqual(stackWords(host, 2), [0, CODE_AT + 21]);
});

test("LTR marks the TSS busy and STR reads it back; LAR, LSL and VERW inspect descriptors", () => {
  const host = machine();
  writeTable(host.ram, GDT + 5 * 8, [segmentDescriptor(TSS, 103, TSS32, 0)]);
  // mov ax, 0x28; ltr ax; str bx; lar ecx, eax; lsl edx, eax; mov si, 0x10; verw si; hlt
  host.ram.set([0x66, 0xb8, 0x28, 0x00, 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xcb, 0x0f, 0x02, 0xc8, 0x0f, 0x03, 0xd0, 0x66, 0xbe, 0x10, 0x00, 0x0f, 0x00, 0xee, 0xf4], CODE_AT);
  host.setState([{ tag: REG["tr.selector"], value: 0 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rbx") & 0xffff, TSS_SEL);
  assert.equal(host.ram[GDT + 5 * 8 + 5] & 0xf, 0xb, "busy");
  assert.equal(reg(host, "rcx"), 0x8b00, "LAR: present, DPL 0, busy 32-bit TSS");
  assert.equal(reg(host, "rdx"), 103);
  assert.equal(reg(host, "rflags") & (1 << 6), 1 << 6, "VERW of the ring-0 data segment at CPL 0: writable");
});

test("an injected interrupt waits for IF, and for the instruction after STI; EXT marks its delivery faults", () => {
  const host = machine();
  host.ram.set([0x90, 0xfb, 0x40, 0x40, 0x40], CODE_AT); // nop; sti; inc eax; inc eax; inc eax
  host.setState([{ tag: REG.pending_interrupt, value: 0x20 | 0x100 }, { tag: REG.rax, value: 0 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rax"), 1, "taken after the instruction following STI");
  assert.deepEqual(stackWords(host, 2), [CODE_AT + 3, KCODE]);
  assert.equal(reg(host, "pending_interrupt"), 0);
  // Vector 0x50 lies beyond the IDT: #GP with the IDT bit and EXT set in its error code.
  host.setState([{ tag: REG.rip, value: CODE_AT }, { tag: REG.rsp, value: STACK0 }, { tag: REG.pending_interrupt, value: 0x50 | 0x100 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [(0x50 << 3) | 2 | 1, CODE_AT + 3]);
});

test("a double fault through a task gate switches to the double-fault task, as 32-bit Linux sets it up", () => {
  const host = machine();
  const DF_TSS = 0x2900;
  const DF_STACK = 0x7000;
  const DF_TSS_SEL = 0x38;
  writeTable(host.ram, GDT + 7 * 8, [segmentDescriptor(DF_TSS, 103, TSS32, 0)]);
  host.setState([{ tag: REG["gdtr.limit"], value: 8 * 8 - 1 }, { tag: REG.rax, value: 0xaaaa }]);
  // The double-fault task: EIP at HANDLER, its own stack, flat ring-0 segments, EFLAGS 2.
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  writeTss(host.ram, DF_TSS, KDATA, STACK0, { eip: HANDLER, esp: DF_STACK, code: KCODE, data: KDATA });
  // #UD's gate names a selector beyond the GDT: #GP, whose gate does too: #DF, through a task gate.
  writeTable(host.ram, IDT, Array.from({ length: 64 }, (_, v) => (v === 8 ? gateDescriptor(DF_TSS_SEL, 0, 0x05, 0) : gateDescriptor(0x40, HANDLER, INT_GATE32, 0))));
  host.setState([{ tag: REG["tr.attrs"], value: 0x8b }]);
  writeTable(host.ram, GDT + 5 * 8, [segmentDescriptor(TSS, 103, TSS32 | 2, 0)]); // the current task's TSS is busy
  host.ram.set([0x0f, 0x0b], CODE_AT); // ud2
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "tr.selector"), DF_TSS_SEL);
  assert.equal(reg(host, "rsp"), DF_STACK - 4, "error code 0 pushed on the new task's stack");
  assert.equal(view.getUint32(DF_STACK - 4, true), 0);
  assert.equal(view.getUint32(TSS + 0x20, true), CODE_AT, "the outgoing task's EIP: the faulting instruction");
  assert.equal(view.getUint32(TSS + 0x28, true), 0xaaaa, "and its EAX");
  assert.equal(view.getUint16(DF_TSS, true), TSS_SEL, "back link to the outgoing task");
  assert.ok(reg(host, "rflags") & (1 << 14), "NT set in the nested task");
  assert.ok(reg(host, "cr0") & 8, "CR0.TS set by the task switch");
  assert.equal(host.ram[GDT + 7 * 8 + 5] & 0xf, 0xb, "the new TSS is busy");
  assert.equal(host.ram[GDT + 5 * 8 + 5] & 0xf, 0xb, "the interrupted task stays busy (nested)");
});

test("CALL to a TSS runs the task nested; its IRET returns to the caller's task after the CALL", () => {
  const host = machine();
  const TSS2 = 0x2900;
  const TSS2_SEL = 0x38;
  const TASK2_CODE = 0x3100;
  writeTable(host.ram, GDT + 5 * 8, [segmentDescriptor(TSS, 103, TSS32 | 2, 0)]);
  writeTable(host.ram, GDT + 7 * 8, [segmentDescriptor(TSS2, 103, TSS32, 0)]);
  host.setState([{ tag: REG["gdtr.limit"], value: 8 * 8 - 1 }]);
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  writeTss(host.ram, TSS2, KDATA, STACK0, { eip: TASK2_CODE, esp: 0x7000, eax: 0x77, code: KCODE, data: KDATA });
  host.ram.set([0xcf], TASK2_CODE); // task 2: iret (NT set: back to the caller's task)
  // task 1: mov eax, 1; call far TSS2_SEL:0; hlt
  host.ram.set([0xb8, 1, 0, 0, 0, 0x9a, 0, 0, 0, 0, TSS2_SEL, 0, 0xf4], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual([reg(host, "tr.selector"), reg(host, "rip"), reg(host, "rax")], [TSS_SEL, CODE_AT + 13, 1]);
  assert.equal(view.getUint32(TSS2 + 0x20, true), TASK2_CODE + 1, "task 2's EIP saved after its IRET");
  assert.equal(host.ram[GDT + 7 * 8 + 5] & 0xf, 0x9, "task 2 is no longer busy");
  assert.equal(reg(host, "rflags") & (1 << 14), 0, "task 1 is not nested");
});


test("RDTSC counts at TSC_HZ from the host clock; a write to IA32_TSC moves it; CR4.TSD makes it privileged", () => {
  const host = machine();
  // rdtsc; mov ebx, eax; mov esi, edx; (spin 100 x) ; rdtsc; hlt
  host.ram.set([0x0f, 0x31, 0x89, 0xc3, 0x89, 0xd6, 0xb9, ...le32(100000), 0xe2, 0xfe, 0x0f, 0x31, 0xf4], CODE_AT);
  const before = performance.timeOrigin + performance.now();
  assert.deepEqual(host.run(1_000_000), { reason: "hlt" });
  const after = performance.timeOrigin + performance.now();
  const first = reg(host, "rsi") * 2 ** 32 + reg(host, "rbx");
  const second = reg(host, "rdx") * 2 ** 32 + reg(host, "rax");
  assert.ok(second > first, "monotonic");
  assert.ok(first >= before * 1e6 - 1e6 && second <= after * 1e6 + 1e6, "1 GHz from the host clock's epoch");
  // wrmsr IA32_TSC = 0, then rdtsc: small
  host.ram.set([0xb9, 0x10, 0, 0, 0, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x31, 0xf4], CODE_AT);
  host.setState([{ tag: REG.rip, value: CODE_AT }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rdx"), 0);
  assert.ok(reg(host, "rax") < 1e8, "within 0.1 s of the write");
  host.setState([{ tag: REG.cr4, value: 4 }, { tag: REG.rip, value: CODE_AT }]);
  enterUser(host, [0x0f, 0x31]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0, USER_CODE_AT]);
});

test("a REP string instruction retires once however many chunks it runs in", () => {
  const host = machine();
  // mov ecx, 20000; mov esi, 0x10000; mov edi, 0x40000; rep movsb; hlt
  host.ram.set([0xb9, ...le32(20000), 0xbe, ...le32(0x10000), 0xbf, ...le32(0x40000), 0xf3, 0xa4, 0xf4], CODE_AT);
  host.ram.fill(0x5a, 0x10000, 0x10000 + 20000);
  assert.deepEqual(host.run(1000), { reason: "hlt" });
  assert.equal(reg(host, "instructions"), 5);
  assert.equal(reg(host, "rcx"), 0);
  assert.equal(host.ram[0x40000 + 19999], 0x5a);
});

test("bulk REP MOVS/STOS keep x86 semantics: an overlapping forward MOVSB replicates, STOSD fills, pages cross", () => {
  const host = machine();
  host.ram[0x10000] = 0x11;
  host.ram[0x10001] = 0x22;
  // Warm the TLB for both pages, then: rep movsb from 0x10000 to 0x10002 (overlapping by 2), 6000 bytes
  // mov ecx, 6000; mov esi, 0x10000; mov edi, 0x10002; rep movsb
  // mov ecx, 3000; mov eax, 0xa1b2c3d4; mov edi, 0x20ffe; rep stosd; hlt
  host.ram.set([
    0xb9, ...le32(6000), 0xbe, ...le32(0x10000), 0xbf, ...le32(0x10002), 0xf3, 0xa4,
    0xb9, ...le32(3000), 0xb8, ...le32(0xa1b2c3d4), 0xbf, ...le32(0x20ffe), 0xf3, 0xab, 0xf4,
  ], CODE_AT);
  assert.deepEqual(host.run(100000), { reason: "hlt" });
  const bytes = host.ram.subarray(0x10000, 0x10000 + 6002);
  assert.ok(bytes.every((b, i) => b === (i % 2 === 0 ? 0x11 : 0x22)), "each byte copied after the one before it was written");
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  for (const at of [0x20ffe, 0x20ffe + 4 * 1000, 0x20ffe + 4 * 2999]) assert.equal(view.getUint32(at, true), 0xa1b2c3d4);
  assert.equal(view.getUint32(0x20ffe + 4 * 3000, true), 0);
  assert.deepEqual([reg(host, "rcx"), reg(host, "rdi")], [0, 0x20ffe + 4 * 3000]);
});

/** PAE tables: a PDPT at 0xc000, a directory at 0xd000 whose first entry points to a table at 0xe000 identity-mapping 0-1 MiB, and entry 1 of the PDPT to a directory at 0xf000 with one 2 MiB page. */
function paePaging(host: CoreHost, pteFlags = PTE_P | PTE_RW | PTE_US): void {
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  const entry = (at: number, lo: number, hi = 0): void => {
    view.setUint32(at, lo, true);
    view.setUint32(at + 4, hi, true);
  };
  for (let at = 0xc000; at < 0x10000; at += 4) view.setUint32(at, 0, true);
  entry(0xc000, 0xd000 | PTE_P);
  entry(0xc008, 0xf000 | PTE_P);
  entry(0xd000, 0xe000 | PTE_P | PTE_RW | PTE_US);
  for (let page = 0; page < 256; page++) entry(0xe000 + page * 8, (page << 12) | pteFlags);
  entry(0xf000, 0x0 | PTE_P | PTE_RW | 0x80); // 1 GiB + 0: a 2 MiB page at physical 0
  host.setState([{ tag: REG.cr3, value: 0xc000 }, { tag: REG.cr4, value: 0x20 }, { tag: REG.cr0, value: 0x80000011 }]);
}

test("PAE paging: 4 KiB pages and 2 MiB pages through 8-byte entries, accessed and dirty bits set", () => {
  const host = machine();
  paePaging(host);
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  view.setUint32(0x61234, 0xfeedf00d, true);
  // mov eax, [0x40061234] (through the 2 MiB page); mov [0x62000], eax (4 KiB page); hlt
  host.ram.set([0xa1, ...le32(0x40061234), 0xa3, ...le32(0x62000), 0xf4], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(view.getUint32(0x62000, true), 0xfeedf00d);
  assert.equal(view.getUint32(0xf000, true) & 0x20, 0x20, "2 MiB PDE accessed");
  assert.equal(view.getUint32(0xe000 + 0x62 * 8, true) & 0x60, 0x60, "PTE accessed and dirty");
});

test("PAE with EFER.NXE: a fetch from an XD page faults with P|I/D; without NXE the XD bit is reserved", () => {
  const host = machine();
  paePaging(host);
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  view.setUint32(0xe000 + 0x70 * 8 + 4, 0x80000000, true); // XD on page 0x70
  host.ram[0x70000] = 0x90;
  host.ram.set([0xe9, ...le32(0x70000 - (CODE_AT + 5))], CODE_AT); // jmp 0x70000
  host.setState([{ tag: REG.efer, value: 1 << 11 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0x11, 0x70000]);
  assert.equal(reg(host, "cr2"), 0x70000);
  host.setState([{ tag: REG.efer, value: 0 }, { tag: REG.rip, value: CODE_AT }, { tag: REG.rsp, value: STACK0 }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.deepEqual(stackWords(host, 2), [0x09, 0x70000], "P|RSVD: bit 63 is reserved without NXE");
});

test("EFER: RDMSR/WRMSR of NXE; any other bit is #GP(0); CPUID reports PAE and NX", () => {
  const host = machine();
  // mov ecx, 0xc0000080; mov eax, 0x800; xor edx, edx; wrmsr; rdmsr; mov esi, eax
  // mov eax, 0x80000001; cpuid; mov edi, edx; mov eax, 1; cpuid; mov ebp, edx
  // mov ecx, 0xc0000080; mov eax, 1; xor edx, edx; wrmsr (#GP)
  host.ram.set([
    0xb9, ...le32(0xc0000080), 0xb8, ...le32(0x800), 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x32, 0x89, 0xc6,
    0xb8, ...le32(0x80000001), 0x0f, 0xa2, 0x89, 0xd7, 0xb8, ...le32(1), 0x0f, 0xa2, 0x89, 0xd5,
    0xb9, ...le32(0xc0000080), 0xb8, ...le32(1), 0x31, 0xd2, 0x0f, 0x30,
  ], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rsi"), 0x800);
  assert.equal(reg(host, "rdi") & (1 << 20), 1 << 20, "NX");
  assert.equal(reg(host, "rbp") & (1 << 6), 1 << 6, "PAE");
  assert.deepEqual(stackWords(host, 2), [0, CODE_AT + 48]);
  assert.equal(reg(host, "efer"), 0x800);
});

test("a far jump from 16-bit code into 32-bit code lands above 64 KiB (the classic switch to protected mode)", () => {
  const host = machine();
  // 16-bit code segment (the reset state's), protected mode already on: jmp dword 0x08:0x20000 (66 EA)
  host.setState([{ tag: REG["cs.attrs"], value: 0x9b }, { tag: REG["cs.limit"], value: 0xffff }]);
  host.ram.set([0x66, 0xea, ...le32(0x20000), KCODE, 0], CODE_AT);
  host.ram[0x20000] = 0xf4;
  assert.deepEqual(host.run(10), { reason: "hlt" });
  assert.equal(reg(host, "rip"), 0x20001);
  assert.equal(reg(host, "cs.selector"), KCODE);
});

test("kvmclock: CPUID shows KVM's leaves; the MSRs publish a time structure that turns the TSC into nanoseconds and the host's boot time", () => {
  const host = machine();
  const TIME = 0x6000;
  const WALL = 0x6100;
  // mov eax, 0x40000000; cpuid; mov [0x6200], ebx; mov [0x6204], ecx; mov [0x6208], edx; mov eax, 0x40000001; cpuid; mov esi, eax
  // mov ecx, 0x4b564d01; mov eax, TIME|1; xor edx, edx; wrmsr; mov ecx, 0x4b564d00; mov eax, WALL; wrmsr; rdtsc; hlt
  host.ram.set([
    0xb8, ...le32(0x40000000), 0x0f, 0xa2, 0x89, 0x1d, ...le32(0x6200), 0x89, 0x0d, ...le32(0x6204), 0x89, 0x15, ...le32(0x6208),
    0xb8, ...le32(0x40000001), 0x0f, 0xa2, 0x89, 0xc6,
    0xb9, ...le32(0x4b564d01), 0xb8, ...le32(TIME | 1), 0x31, 0xd2, 0x0f, 0x30,
    0xb9, ...le32(0x4b564d00), 0xb8, ...le32(WALL), 0x0f, 0x30, 0x0f, 0x31, 0xf4,
  ], CODE_AT);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(Buffer.from(host.ram.subarray(0x6200, 0x620c)).toString("latin1"), "KVMKVMKVM\0\0\0");
  assert.equal(reg(host, "rsi") & 0x01000009, 0x01000009, "CLOCKSOURCE, CLOCKSOURCE2, STABLE_BIT");
  const view = new DataView(host.ram.buffer, host.ram.byteOffset);
  const tsc = reg(host, "rdx") * 2 ** 32 + reg(host, "rax");
  const stamp = Number(view.getBigUint64(TIME + 8, true));
  const systemTime = Number(view.getBigUint64(TIME + 16, true));
  const [mul, shift] = [view.getUint32(TIME + 24, true), view.getInt8(TIME + 28)];
  assert.equal(view.getUint32(TIME, true) % 2, 0, "version even: not in the middle of an update");
  assert.ok(stamp <= tsc && tsc - stamp < 1e9, "stamped at the WRMSR");
  // The guest's formula (Linux pvclock_scale_delta): nanoseconds = system_time + ((tsc - stamp) << shift) * mul >> 32.
  const nanoseconds = systemTime + Math.floor(((tsc - stamp) * 2 ** shift * mul) / 2 ** 32);
  assert.equal(nanoseconds, tsc, "system time runs with the 1 GHz TSC");
  assert.equal(view.getUint8(TIME + 29) & 1, 1, "PVCLOCK_TSC_STABLE_BIT");
  const bootSeconds = view.getUint32(WALL + 4, true) + view.getUint32(WALL + 8, true) / 1e9;
  const hostNow = (performance.timeOrigin + performance.now()) / 1e3;
  assert.ok(Math.abs(bootSeconds + tsc / 1e9 - hostNow) < 2, "boot time + system time = the host's wall clock");
  // RDMSR reads back what was written.
  host.ram.set([0xb9, ...le32(0x4b564d01), 0x0f, 0x32, 0xf4], CODE_AT);
  host.setState([{ tag: REG.rip, value: CODE_AT }]);
  assert.deepEqual(host.run(100), { reason: "hlt" });
  assert.equal(reg(host, "rax"), TIME | 1);
});
