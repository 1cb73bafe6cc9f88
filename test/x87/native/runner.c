/*
 * Native runner of the x87 differential test: runs each case on the host's FPU in 32-bit user
 * mode and reports EFLAGS, EAX, the DATA window (holding the FNSAVE image the case's code ends
 * with) and any fault. Freestanding (gcc -m32 -nostdlib -static -ffreestanding), Linux i386
 * system calls only. The record layout comes from format.h, generated from test/x87/format.ts.
 *
 * After a fault (SIGFPE for #MF, SIGILL for #UD, ...) the FPU state at the fault is taken from
 * the signal frame, whose i387 header and registers have FNSAVE's 32-bit layout, and written to
 * the window's WIN_OUT so the test compares it as it would a case's own FNSAVE image.
 */
#include "format.h"

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define NR_EXIT 1
#define NR_READ 3
#define NR_WRITE 4
#define NR_RT_SIGACTION 174
#define NR_SIGALTSTACK 186
#define NR_MMAP2 192

#define PROT_RW 3
#define PROT_RWX 7
#define MAP_FIXED_PRIVATE_ANON 0x32
#define SA_SIGINFO 4
#define SA_RESTORER 0x04000000
#define SA_ONSTACK 0x08000000
#define EFLAGS_CLEAR_ON_RECOVERY 0x40500 /* AC DF TF */

void *memcpy(void *dst, const void *src, u32 n);
void *memset(void *dst, int c, u32 n);
long linux_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
void signal_restorer(void);
int x87_enter(void);
extern char x87_return[], x87_recover[];

/* Shared with runner.S. */
u32 in_eflags, in_eax, out_eflags, out_eax, runner_esp, code_entry = CODE_BASE;

static volatile u32 in_case;
static u32 fault_signal, fault_vector, fault_eip;
static u8 alt_stack[65536] __attribute__((aligned(16)));
static u8 case_buf[CASE_SIZE];
static u8 out_buf[65536];
static u32 out_len;
static u8 in_buf[65536];
static u32 in_pos, in_len;

/* The i386 signal frame's context (sigcontext_32 on a 64-bit kernel). */
struct sigcontext32 {
  u16 gs, gsh, fs, fsh, es, esh, ds, dsh;
  u32 edi, esi, ebp, esp, ebx, edx, ecx, eax, trapno, err, eip;
  u16 cs, csh;
  u32 eflags, esp_at_signal;
  u16 ss, ssh;
  u32 fpstate, oldmask, cr2;
};
struct ucontext32 {
  u32 flags, link, ss_sp, ss_flags, ss_size;
  struct sigcontext32 mc;
};
struct kernel_sigaction { void *handler; u32 flags; void *restorer; u32 mask[2]; };

static void die(const char *why, int code) {
  u32 n = 0;
  while (why[n]) n++;
  linux_syscall(NR_WRITE, 2, (long)why, n, 0, 0, 0);
  linux_syscall(NR_EXIT, code, 0, 0, 0, 0, 0);
}

static u32 get32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }
static void put32(u8 *p, u32 v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

static void flush_out(void) {
  for (u32 done = 0; done < out_len;) {
    long n = linux_syscall(NR_WRITE, 1, (long)(out_buf + done), out_len - done, 0, 0, 0);
    if (n <= 0) die("x87 runner: write failed\n", 3);
    done += n;
  }
  out_len = 0;
}

static u8 *out_reserve(u32 n) {
  if (out_len + n > sizeof out_buf) flush_out();
  out_len += n;
  return out_buf + out_len - n;
}

/* Reads exactly n bytes; returns 0 at a clean end of input. */
static int read_exact(u8 *dst, u32 n) {
  for (u32 got = 0; got < n;) {
    if (in_pos == in_len) {
      long r = linux_syscall(NR_READ, 0, (long)in_buf, sizeof in_buf, 0, 0, 0);
      if (r < 0) die("x87 runner: read failed\n", 3);
      if (r == 0) {
        if (got == 0) return 0;
        die("x87 runner: truncated case record\n", 2);
      }
      in_pos = 0;
      in_len = r;
    }
    u32 take = in_len - in_pos < n - got ? in_len - in_pos : n - got;
    memcpy(dst + got, in_buf + in_pos, take);
    in_pos += take;
    got += take;
  }
  return 1;
}

/* Records the fault and the FPU state at it, and resumes at x87_recover on the runner's stack. */
static void on_fault(int sig, void *info, void *context) {
  struct ucontext32 *uc = context;
  (void)info;
  if (!in_case) die("x87 runner: fault outside a case\n", 70);
  fault_signal = sig;
  fault_vector = uc->mc.trapno;
  fault_eip = uc->mc.eip;
  out_eflags = uc->mc.eflags;
  out_eax = uc->mc.eax;
  if (uc->mc.fpstate == 0) die("x87 runner: no FPU state in the signal frame\n", 71);
  memcpy((void *)(WINDOW_BASE + WIN_OUT), (void *)uc->mc.fpstate, SAVE_SIZE);
  uc->mc.eip = (u32)x87_recover;
  uc->mc.esp = runner_esp;
  uc->mc.eflags &= ~EFLAGS_CLEAR_ON_RECOVERY;
}

static void map_fixed(u32 at, u32 size, u32 prot) {
  if ((u32)linux_syscall(NR_MMAP2, at, size, prot, MAP_FIXED_PRIVATE_ANON, -1, 0) != at) die("x87 runner: mmap failed\n", 4);
}

static void setup(void) {
  map_fixed(DATA_BASE, DATA_SIZE, PROT_RW);
  map_fixed(CODE_BASE, CODE_SIZE, PROT_RWX);
  memset((void *)CODE_BASE, 0xf4, CODE_SIZE);

  u32 altstack[3] = { (u32)alt_stack, 0, sizeof alt_stack };
  if (linux_syscall(NR_SIGALTSTACK, (long)altstack, 0, 0, 0, 0, 0) != 0) die("x87 runner: sigaltstack failed\n", 4);
  struct kernel_sigaction sa = { (void *)on_fault, SA_SIGINFO | SA_ONSTACK | SA_RESTORER, (void *)signal_restorer, { 0, 0 } };
  static const int signals[] = { 4 /* ILL */, 5 /* TRAP */, 7 /* BUS */, 8 /* FPE */, 11 /* SEGV */ };
  for (u32 i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (linux_syscall(NR_RT_SIGACTION, signals[i], (long)&sa, 0, 8, 0, 0) != 0) die("x87 runner: rt_sigaction failed\n", 4);
  }

  u32 es, cs, ss, ds;
  __asm__ volatile("mov %%es, %0\n\tmov %%cs, %1\n\tmov %%ss, %2\n\tmov %%ds, %3" : "=r"(es), "=r"(cs), "=r"(ss), "=r"(ds));
  u8 *h = out_reserve(OUT_HEADER_SIZE);
  put32(h + OUT_MAGIC_U32, FORMAT_MAGIC);
  u32 selectors[4] = { es, cs, ss, ds };
  for (u32 i = 0; i < 4; i++) put32(h + OUT_SELECTORS_U32 + i * 4, selectors[i]);
}

static void run_case(const u8 *c) {
  u32 len = get32(c + CASE_CODE_LEN_U32);
  if (len > CODE_MAX) die("x87 runner: code too long\n", 2);
  u8 *code = (u8 *)CODE_BASE;
  memcpy(code, c + CASE_CODE, len);
  u32 rel = (u32)x87_return - (CODE_BASE + len + 5);
  code[len] = 0xe9;
  put32(code + len + 1, rel);
  memcpy((void *)WINDOW_BASE, c + CASE_WINDOW, WINDOW_SIZE);
  in_eflags = (get32(c + CASE_EFLAGS_U32) & EFLAGS_INPUT) | EFLAGS_FIXED;
  in_eax = get32(c + CASE_EAX_U32);

  fault_signal = 0;
  in_case = 1;
  int faulted = x87_enter();
  in_case = 0;

  u8 *r = out_reserve(RES_SIZE);
  put32(r + RES_SIGNAL_U32, faulted ? fault_signal : 0);
  put32(r + RES_VECTOR_U32, faulted ? fault_vector : 0);
  put32(r + RES_EIP_U32, faulted ? fault_eip : 0);
  put32(r + RES_EFLAGS_U32, out_eflags);
  put32(r + RES_EAX_U32, out_eax);
  memcpy(r + RES_WINDOW, (void *)WINDOW_BASE, WINDOW_SIZE);
  memset(code, 0xf4, len + 5);
}

void runner_main(void) {
  setup();
  u8 header[IN_HEADER_SIZE];
  if (!read_exact(header, IN_HEADER_SIZE)) die("x87 runner: no input\n", 2);
  if (get32(header + IN_MAGIC_U32) != FORMAT_MAGIC || get32(header + IN_CASE_SIZE_U32) != CASE_SIZE) {
    die("x87 runner: input format mismatch\n", 2);
  }
  while (read_exact(case_buf, CASE_SIZE)) run_case(case_buf);
  flush_out();
  linux_syscall(NR_EXIT, 0, 0, 0, 0, 0, 0);
}
