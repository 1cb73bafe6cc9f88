/*
 * Native runner of the x87 differential test: runs each case on the host's FPU in 32-bit user
 * mode and reports EFLAGS, EAX, the DATA window (holding the FNSAVE image the case's code ends
 * with) and any fault. Built on the shared runtime (test/native/runtime.h); the record layout
 * comes from format.h, generated from test/x87/format.ts.
 *
 * After a fault (SIGFPE for #MF, SIGILL for #UD, ...) the FPU state at the fault is taken from
 * the signal frame, whose i387 header and registers have FNSAVE's 32-bit layout, and written to
 * the window's WIN_OUT so the test compares it as it would a case's own FNSAVE image.
 */
#include "runtime.h"

/* Shared with runner.S. */
u32 in_eflags, in_eax, out_eflags, out_eax;

const char runner_name[] = "x87 runner";

void runner_fault(const struct sigcontext32 *mc) {
  out_eflags = mc->eflags;
  out_eax = mc->eax;
  if (mc->fpstate == 0) die("no FPU state in the signal frame\n", 71);
  memcpy((void *)(WINDOW_BASE + WIN_OUT), (void *)mc->fpstate, SAVE_SIZE);
}

void runner_setup(void) {
  out_header(host_selectors, 4);
}

void runner_case(const u8 *c) {
  u32 len = case_load_code(c);
  memcpy((void *)WINDOW_BASE, c + CASE_WINDOW, WINDOW_SIZE);
  in_eflags = (get32(c + CASE_EFLAGS_U32) & EFLAGS_INPUT) | EFLAGS_FIXED;
  in_eax = get32(c + CASE_EAX_U32);

  int faulted = case_run();

  u8 *r = out_result(faulted);
  put32(r + RES_EIP_U32, faulted ? fault.eip : 0);
  put32(r + RES_EFLAGS_U32, out_eflags);
  put32(r + RES_EAX_U32, out_eax);
  memcpy(r + RES_WINDOW, (void *)WINDOW_BASE, WINDOW_SIZE);
  case_clear_code(len);
}
