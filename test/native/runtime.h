/*
 * The runtime both native runners (test/diff/native, test/x87/native) are built on: system
 * calls, the buffered record pipe, the fixed DATA and code mappings, fault capture and the case
 * switch. A runner supplies its case format (format.h, generated from its TypeScript format by
 * test/native/runner.ts), the hooks declared at the end, and in its runner.S the labels
 * case_load and case_return. Freestanding (gcc -m32 -nostdlib -static -ffreestanding), Linux
 * i386 system calls only.
 */
#ifndef NATIVE_RUNTIME_H
#define NATIVE_RUNTIME_H

#include "format.h"

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/* The i386 signal frame's context (struct ucontext_ia32 / sigcontext_32 on a 64-bit kernel). */
struct sigcontext32 {
  u16 gs, gsh, fs, fsh, es, esh, ds, dsh;
  u32 edi, esi, ebp, esp, ebx, edx, ecx, eax, trapno, err, eip;
  u16 cs, csh;
  u32 eflags, esp_at_signal;
  u16 ss, ssh;
  u32 fpstate, oldmask, cr2;
};

/* The fault that cut the last case short (valid when case_run returned 1). */
struct fault { u32 signal, vector, error, cr2, eip; };
extern struct fault fault;

/* The host's selectors of the flat segments, read at start-up: ES CS SS DS. */
extern u32 host_selectors[4];
/* Shared with runtime.S and the runners' case_load: the runner's ESP inside case_enter, the
 * flat DS the runner's own code needs, and where case_load jumps to start a case. */
extern u32 runner_esp, flat_ds, code_entry;

void *memcpy(void *dst, const void *src, u32 n);
void *memset(void *dst, int c, u32 n);
long linux_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* Writes "<runner_name>: <why>" to stderr and exits with `code`. */
void die(const char *why, int code) __attribute__((noreturn));
/* Room for n bytes of output; the buffer goes to stdout when full and at the end. */
u8 *out_reserve(u32 n);
/* Writes the output header: FORMAT_MAGIC, then `count` selectors from OUT_SELECTORS_U32. */
void out_header(const u32 *selectors, u32 count);
/* Room for one RES_SIZE result whose RES_SIGNAL_U32 and RES_VECTOR_U32 are filled in: zero,
 * or after a fault (`faulted`) its signal and vector. */
u8 *out_result(int faulted);
/* Copies a case record's code to CODE_BASE and ends it with a jump to case_return; returns
 * its length. case_clear_code(length) puts the HLT filler back. */
u32 case_load_code(const u8 *record);
void case_clear_code(u32 length);
/* Runs the code page through case_load; returns 0 when it reached case_return, 1 when a
 * fault cut it short (then `fault` and whatever runner_fault took describe it). */
int case_run(void);

static inline u32 get32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }
static inline void put32(u8 *p, u32 v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

/* ---- supplied by each runner ---- */

/* Prefix of the runner's error messages. */
extern const char runner_name[];
/* Runs once after the mappings and the fault handler exist; writes the output header. */
void runner_setup(void);
/* Runs one CASE_SIZE record and appends its RES_SIZE result. */
void runner_case(const u8 *record);
/* Called in the fault handler, before the runtime redirects the context to case_recover:
 * takes what the runner reports from the faulting context. */
void runner_fault(const struct sigcontext32 *mc);

#endif
