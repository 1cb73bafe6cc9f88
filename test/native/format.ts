/**
 * The framing both native runners share (test/native/runtime.c reads and writes it), re-exported
 * by each harness's format module so it lands in the runner's generated format.h. Little-endian.
 * Input: a header, then fixed-size case records until end of input. Output: a header holding the
 * host's segment selectors, then one result record per case.
 */

/** The filler of the code page around a case's code; at CPL 3 it raises #GP(0) on both machines. */
export const HLT = 0xf4;

// Input header
export const IN_MAGIC_U32 = 0;
export const IN_CASE_SIZE_U32 = IN_MAGIC_U32 + 4; // CASE_SIZE, so a stale runner is refused
export const IN_HEADER_SIZE = IN_CASE_SIZE_U32 + 4;

// Case record: starts with the code's length (at most CODE_MAX); the rest is the harness's.
export const CASE_CODE_LEN_U32 = 0;

/** EFLAGS bits every case starts with: IF and bit 1. */
export const EFLAGS_FIXED = 0x202;

// Output header: FORMAT_MAGIC, then the harness's selectors (OUT_HEADER_SIZE is the harness's).
export const OUT_MAGIC_U32 = 0;
export const OUT_SELECTORS_U32 = OUT_MAGIC_U32 + 4;

// Result record: starts with how the case ended; the rest is the harness's.
export const RES_SIGNAL_U32 = 0; // 0 when the case ran to its end, else the signal that stopped it
export const RES_VECTOR_U32 = RES_SIGNAL_U32 + 4; // the exception vector (sigcontext trapno)

/** Names of the signals the runtime catches. */
export const SIGNAL_NAMES: Readonly<Record<number, string>> = { 4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV" };
