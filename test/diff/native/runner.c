/*
 * Native runner of the differential CPU test: runs each case of a batch on the host CPU in
 * 32-bit user mode and reports the registers, EFLAGS, DATA area and any fault. Built on the
 * shared runtime (test/native/runtime.h); the record layout comes from format.h, generated from
 * test/diff/case-format.ts.
 *
 * A case runs with FS and GS (and, with CASE_FLAG_SEG16, DS and ES) selecting a TLS segment
 * based at DATA_BASE with a 64 KiB limit. A CASE_FLAG_CODE16 case runs in a 16-bit code segment
 * (an LDT entry based at CODE_BASE): runner.S enters it with a far jump, and the code ends with a
 * far jump back to case_return in the flat 32-bit code segment instead of the near one.
 */
#include "runtime.h"

#define NR_MODIFY_LDT 123
#define NR_SET_THREAD_AREA 243
#define FAR_JMP_LEN 8 /* 66 EA ptr16:32 */

/* Shared with runner.S: the state case_load loads and case_return (or runner_fault) stores. */
u32 in_regs[8], in_eflags, in_ds, in_es;
u32 out_regs[8], out_eflags;
/* The far pointer (offset, selector) case_enter16 jumps through. */
u32 far16[2];

extern char case_enter16[], case_return[];

const char runner_name[] = "runner";
static u32 data16; /* selector of the DATA segment */
static u32 code16; /* selector of the CODE16 segment */

struct user_desc { u32 entry_number, base_addr, limit, flags; };

void runner_fault(const struct sigcontext32 *mc) {
  u32 regs[8] = { mc->eax, mc->ecx, mc->edx, mc->ebx, mc->esp, mc->ebp, mc->esi, mc->edi };
  memcpy(out_regs, regs, sizeof regs);
  out_eflags = mc->eflags;
}

void runner_setup(void) {
  /* 32-bit, read-write data, byte granular, present, usable. */
  struct user_desc desc = { (u32)-1, DATA_BASE, 0xffff, 0x41 };
  if (linux_syscall(NR_SET_THREAD_AREA, (long)&desc, 0, 0, 0, 0, 0) != 0) die("set_thread_area failed\n", 4);
  data16 = desc.entry_number * 8 + 3;
  __asm__ volatile("mov %0, %%fs\n\tmov %0, %%gs" : : "r"(data16));
  /* LDT entry 0: 16-bit, execute/read code, byte granular, present, usable. */
  struct user_desc code = { 0, CODE_BASE, CODE16_LIMIT, 0x44 };
  if (linux_syscall(NR_MODIFY_LDT, 0x11, (long)&code, sizeof code, 0, 0, 0) != 0) die("modify_ldt failed\n", 4);
  code16 = 0 * 8 + 4 + 3; /* LDT, RPL 3 */
  u32 selectors[7] = { host_selectors[0], host_selectors[1], host_selectors[2], flat_ds, data16, data16, code16 };
  out_header(selectors, 7);
}

void runner_case(const u8 *c) {
  u32 len = case_load_code(c);
  u32 flags = get32(c + CASE_FLAGS_U32);
  u32 is16 = flags & CASE_FLAG_CODE16;
  if (is16) {
    /* 16-bit code returns with JMP FAR ptr16:32 (0x66: a 32-bit offset) to case_return. */
    u8 *end = (u8 *)CODE_BASE + len;
    end[0] = 0x66;
    end[1] = 0xea;
    put32(end + 2, (u32)case_return);
    end[6] = host_selectors[1];
    end[7] = host_selectors[1] >> 8;
    far16[0] = 0;
    far16[1] = code16;
    code_entry = (u32)case_enter16;
  } else {
    code_entry = CODE_BASE;
  }
  memcpy((void *)DATA_BASE, c + CASE_DATA, DATA_SIZE);
  for (u32 i = 0; i < 8; i++) in_regs[i] = get32(c + CASE_REGS_U32 + i * 4);
  in_eflags = (get32(c + CASE_EFLAGS_U32) & EFLAGS_INPUT) | EFLAGS_FIXED;
  in_ds = in_es = flags & CASE_FLAG_SEG16 ? data16 : flat_ds;

  int faulted = case_run();

  u8 *r = out_result(faulted);
  put32(r + RES_ERROR_CODE_U32, faulted ? fault.error : 0);
  put32(r + RES_CR2_U32, faulted ? fault.cr2 : 0);
  /* EIP is an offset in CS: in the CODE16 segment it counts from CODE_BASE. */
  put32(r + RES_EIP_U32, faulted ? fault.eip : (is16 ? 0 : CODE_BASE) + len);
  put32(r + RES_EFLAGS_U32, out_eflags);
  for (u32 i = 0; i < 8; i++) put32(r + RES_REGS_U32 + i * 4, out_regs[i]);
  memcpy(r + RES_DATA, (void *)DATA_BASE, DATA_SIZE);
  case_clear_code(len);
  if (is16) memset((void *)(CODE_BASE + len), HLT, FAR_JMP_LEN);
}
