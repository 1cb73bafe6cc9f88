/*
 * The shared part of the native runners (see runtime.h): start-up, the input and output pipes,
 * the DATA and code mappings, and the fault handler that ends a case on any exception.
 *
 * Memory: the DATA area (RW) and the code page (RWX) are mapped at fixed addresses apart from the
 * runner's own image, and the fault handler runs on its own stack, so a case can only damage
 * what gets reset before the next case.
 */
#include "runtime.h"

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
#define EFLAGS_CLEAR_ON_RECOVERY 0x40500 /* AC DF TF: the C code assumes them clear */

void signal_restorer(void);
int case_enter(void);
extern char case_return[], case_recover[];

struct fault fault;
u32 host_selectors[4];
u32 runner_esp, flat_ds, code_entry = CODE_BASE;

static volatile u32 in_case;
static u8 alt_stack[65536] __attribute__((aligned(16)));
static u8 case_buf[CASE_SIZE];
static u8 out_buf[65536];
static u32 out_len;
static u8 in_buf[65536];
static u32 in_pos, in_len;

struct ucontext32 {
  u32 flags, link, ss_sp, ss_flags, ss_size;
  struct sigcontext32 mc;
};
struct kernel_sigaction { void *handler; u32 flags; void *restorer; u32 mask[2]; };

static void write_all(int fd, const u8 *p, u32 n) {
  for (u32 done = 0; done < n;) {
    long w = linux_syscall(NR_WRITE, fd, (long)(p + done), n - done, 0, 0, 0);
    if (w <= 0) {
      if (fd == 1) die("write failed\n", 3);
      return; /* stderr: nowhere left to report */
    }
    done += w;
  }
}

static u32 length(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  return n;
}

void die(const char *why, int code) {
  write_all(2, (const u8 *)runner_name, length(runner_name));
  write_all(2, (const u8 *)": ", 2);
  write_all(2, (const u8 *)why, length(why));
  linux_syscall(NR_EXIT, code, 0, 0, 0, 0, 0);
  __builtin_unreachable();
}

static void flush_out(void) {
  write_all(1, out_buf, out_len);
  out_len = 0;
}

u8 *out_reserve(u32 n) {
  if (out_len + n > sizeof out_buf) flush_out();
  out_len += n;
  return out_buf + out_len - n;
}

void out_header(const u32 *selectors, u32 count) {
  u8 *h = out_reserve(OUT_HEADER_SIZE);
  put32(h + OUT_MAGIC_U32, FORMAT_MAGIC);
  for (u32 i = 0; i < count; i++) put32(h + OUT_SELECTORS_U32 + i * 4, selectors[i]);
}

u8 *out_result(int faulted) {
  u8 *r = out_reserve(RES_SIZE);
  put32(r + RES_SIGNAL_U32, faulted ? fault.signal : 0);
  put32(r + RES_VECTOR_U32, faulted ? fault.vector : 0);
  return r;
}

/* Reads exactly n bytes; returns 0 at a clean end of input. */
static int read_exact(u8 *dst, u32 n) {
  for (u32 got = 0; got < n;) {
    if (in_pos == in_len) {
      long r = linux_syscall(NR_READ, 0, (long)in_buf, sizeof in_buf, 0, 0, 0);
      if (r < 0) die("read failed\n", 3);
      if (r == 0) {
        if (got == 0) return 0;
        die("truncated case record\n", 2);
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

/* Records the fault and resumes at case_recover on the runner's stack with the flat DS and ES. */
static void on_fault(int sig, void *info, void *context) {
  struct ucontext32 *uc = context;
  (void)info;
  if (!in_case) die("fault outside a case\n", 70);
  fault.signal = sig;
  fault.vector = uc->mc.trapno;
  fault.error = uc->mc.err;
  fault.cr2 = uc->mc.cr2;
  fault.eip = uc->mc.eip;
  runner_fault(&uc->mc);
  uc->mc.eip = (u32)case_recover;
  uc->mc.esp = runner_esp;
  uc->mc.ds = uc->mc.es = flat_ds;
  uc->mc.cs = host_selectors[1]; /* a case may have run in another code segment (diff's CODE16) */
  uc->mc.eflags &= ~EFLAGS_CLEAR_ON_RECOVERY;
}

static void map_fixed(u32 at, u32 size, u32 prot) {
  if ((u32)linux_syscall(NR_MMAP2, at, size, prot, MAP_FIXED_PRIVATE_ANON, -1, 0) != at) die("mmap failed\n", 4);
}

static void setup(void) {
  map_fixed(DATA_BASE, DATA_SIZE, PROT_RW);
  map_fixed(CODE_BASE, CODE_SIZE, PROT_RWX);
  memset((void *)CODE_BASE, HLT, CODE_SIZE);

  u32 altstack[3] = { (u32)alt_stack, 0, sizeof alt_stack };
  if (linux_syscall(NR_SIGALTSTACK, (long)altstack, 0, 0, 0, 0, 0) != 0) die("sigaltstack failed\n", 4);
  struct kernel_sigaction sa = { (void *)on_fault, SA_SIGINFO | SA_ONSTACK | SA_RESTORER, (void *)signal_restorer, { 0, 0 } };
  static const int signals[] = { 4 /* ILL */, 5 /* TRAP */, 7 /* BUS */, 8 /* FPE */, 11 /* SEGV */ };
  for (u32 i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (linux_syscall(NR_RT_SIGACTION, signals[i], (long)&sa, 0, 8, 0, 0) != 0) die("rt_sigaction failed\n", 4);
  }

  u32 es, cs, ss;
  __asm__ volatile("mov %%es, %0\n\tmov %%cs, %1\n\tmov %%ss, %2\n\tmov %%ds, %3" : "=r"(es), "=r"(cs), "=r"(ss), "=r"(flat_ds));
  host_selectors[0] = es;
  host_selectors[1] = cs;
  host_selectors[2] = ss;
  host_selectors[3] = flat_ds;
}

u32 case_load_code(const u8 *record) {
  u32 len = get32(record + CASE_CODE_LEN_U32);
  if (len > CODE_MAX) die("code too long\n", 2);
  u8 *code = (u8 *)CODE_BASE;
  memcpy(code, record + CASE_CODE, len);
  u32 rel = (u32)case_return - (CODE_BASE + len + 5);
  code[len] = 0xe9; /* JMP rel32 */
  put32(code + len + 1, rel);
  return len;
}

void case_clear_code(u32 len) {
  memset((void *)CODE_BASE, HLT, len + 5);
}

int case_run(void) {
  fault.signal = 0;
  in_case = 1;
  int faulted = case_enter();
  in_case = 0;
  return faulted;
}

void runner_main(void) {
  setup();
  runner_setup();
  u8 header[IN_HEADER_SIZE];
  if (!read_exact(header, IN_HEADER_SIZE)) die("empty input\n", 2);
  if (get32(header + IN_MAGIC_U32) != FORMAT_MAGIC || get32(header + IN_CASE_SIZE_U32) != CASE_SIZE) {
    die("input is not in this runner's format\n", 2);
  }
  while (read_exact(case_buf, CASE_SIZE)) runner_case(case_buf);
  flush_out();
  linux_syscall(NR_EXIT, 0, 0, 0, 0, 0, 0);
}
