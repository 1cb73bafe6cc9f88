/*
 * Native runner of the differential CPU test: runs each case of a batch on the host CPU in
 * 32-bit user mode and reports the registers, EFLAGS, DATA area and any fault. Built on the
 * shared runtime (test/native/runtime.h); the record layout comes from format.h, generated from
 * test/diff/case-format.ts.
 *
 * A case runs with FS and GS (and, with CASE_FLAG_SEG16, DS and ES) selecting a TLS segment
 * based at DATA_BASE with a 64 KiB limit.
 */
#include "runtime.h"

#define NR_SET_THREAD_AREA 243

/* Shared with runner.S: the state case_load loads and case_return (or runner_fault) stores. */
u32 in_regs[8], in_eflags, in_ds, in_es;
u32 out_regs[8], out_eflags;

const char runner_name[] = "runner";
static u32 data16; /* selector of the DATA segment */

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
  u32 selectors[6] = { host_selectors[0], host_selectors[1], host_selectors[2], flat_ds, data16, data16 };
  out_header(selectors, 6);
}

void runner_case(const u8 *c) {
  u32 len = case_load_code(c);
  memcpy((void *)DATA_BASE, c + CASE_DATA, DATA_SIZE);
  for (u32 i = 0; i < 8; i++) in_regs[i] = get32(c + CASE_REGS_U32 + i * 4);
  in_eflags = (get32(c + CASE_EFLAGS_U32) & EFLAGS_INPUT) | EFLAGS_FIXED;
  in_ds = in_es = get32(c + CASE_FLAGS_U32) & CASE_FLAG_SEG16 ? data16 : flat_ds;

  int faulted = case_run();

  u8 *r = out_result(faulted);
  put32(r + RES_ERROR_CODE_U32, faulted ? fault.error : 0);
  put32(r + RES_CR2_U32, faulted ? fault.cr2 : 0);
  put32(r + RES_EIP_U32, faulted ? fault.eip : CODE_BASE + len);
  put32(r + RES_EFLAGS_U32, out_eflags);
  for (u32 i = 0; i < 8; i++) put32(r + RES_REGS_U32 + i * 4, out_regs[i]);
  memcpy(r + RES_DATA, (void *)DATA_BASE, DATA_SIZE);
  case_clear_code(len);
}
