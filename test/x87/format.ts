/**
 * The binary format between the x87 differential test and its native runner (native/runner.c),
 * and the guest addresses both machines use. Every numeric export becomes a `#define` in the
 * header the runner is built with (test/native/runner.ts writes it). The framing shared with the
 * integer test (input header, the record's first fields) is test/native/format.ts, re-exported
 * here.
 *
 * A case's code page holds FRSTOR [STATE], the case's instructions, FNSAVE [OUT], then a jump
 * back to the runner (native) or HLT (core, where it ends the case with #GP at CPL 3). The
 * window is the part of the DATA pages a case sees and the result reports; it straddles the
 * page boundary at WINDOW_BASE + PAGE_CROSS so operands and state images can cross it.
 */
import { CASE_CODE_LEN_U32, OUT_SELECTORS_U32, RES_VECTOR_U32 } from "../native/format";

export * from "../native/format";

/** The code page (RWX natively). */
export const CODE_BASE = 0x30000000;
export const CODE_SIZE = 4096;
/** Two DATA pages. */
export const DATA_BASE = 0x30010000;
export const DATA_SIZE = 8192;
/** The window of the DATA pages a case initializes and the result reports. */
export const WINDOW_BASE = DATA_BASE + 0xe00;
export const WINDOW_SIZE = 1024;
/** Offset in the window of the page boundary. */
export const PAGE_CROSS = 0x200;
/** Offsets in the window: the FRSTOR image, the FNSAVE image, an FXSAVE area, operands. */
export const WIN_STATE = 0x000;
export const WIN_OUT = 0x080;
export const WIN_FXSAVE = 0x100;
export const WIN_MEM = 0x300;
export const SAVE_SIZE = 108;
export const CODE_MAX = 96;

export const FORMAT_MAGIC = 0x37385846; // "FX87"

// Case record (after CASE_CODE_LEN_U32)
export const CASE_EFLAGS_U32 = CASE_CODE_LEN_U32 + 4; // only EFLAGS_INPUT bits are loaded
export const CASE_EAX_U32 = CASE_EFLAGS_U32 + 4;
export const CASE_CODE = CASE_EAX_U32 + 4; // CODE_MAX bytes, CODE_LEN used
export const CASE_WINDOW = CASE_CODE + CODE_MAX; // WINDOW_SIZE bytes
export const CASE_SIZE = CASE_WINDOW + WINDOW_SIZE;

/** CF PF AF ZF SF OF: the arithmetic flags a case may set. */
export const EFLAGS_INPUT = 0x8d5;

// Output header: the selectors of the host's flat segments in the core's order ES CS SS DS.
export const OUT_SELECTORS = 4;
export const OUT_HEADER_SIZE = OUT_SELECTORS_U32 + OUT_SELECTORS * 4;

// Result record (after RES_SIGNAL_U32 and RES_VECTOR_U32)
export const RES_EIP_U32 = RES_VECTOR_U32 + 4; // the faulting instruction, or 0
export const RES_EFLAGS_U32 = RES_EIP_U32 + 4;
export const RES_EAX_U32 = RES_EFLAGS_U32 + 4;
// The window afterwards. After a fault, WIN_OUT holds the FPU state at the fault in FNSAVE's
// 32-bit protected-mode layout (natively: the signal frame's i387 header and registers).
export const RES_WINDOW = RES_EAX_U32 + 4;
export const RES_SIZE = RES_WINDOW + WINDOW_SIZE;
