/**
 * The binary format between the differential test and the native runner (native/runner.c), and
 * the fixed guest addresses both machines use. Every numeric export becomes a `#define` in the
 * header the runner is compiled with (test/native/runner.ts writes it), so this file is the only
 * definition. The framing shared with the x87 test (input header, the record's first fields) is
 * test/native/format.ts, re-exported here.
 */
import { CASE_CODE_LEN_U32, OUT_SELECTORS_U32, RES_VECTOR_U32 } from "../native/format";

export * from "../native/format";

/** The DATA area: every memory operand, stack and string access of a case lands in it. */
export const DATA_BASE = 0x10000000;
export const DATA_SIZE = 4096;
/** The code page: a case's bytes start here; the rest of the page holds HLT (0xf4). */
export const CODE_BASE = 0x20000000;
export const CODE_SIZE = 4096;
export const CODE_MAX = 64;

export const FORMAT_MAGIC = 0x31464944; // "DIF1"

// Case record (after CASE_CODE_LEN_U32)
export const CASE_FLAGS_U32 = CASE_CODE_LEN_U32 + 4; // CASE_FLAG_*
export const CASE_EFLAGS_U32 = CASE_FLAGS_U32 + 4; // only EFLAGS_INPUT bits are loaded
export const CASE_REGS_U32 = CASE_EFLAGS_U32 + 4; // EAX ECX EDX EBX ESP EBP ESI EDI
export const CASE_CODE = CASE_REGS_U32 + 8 * 4; // CODE_MAX bytes, the first CODE_LEN used
export const CASE_DATA = CASE_CODE + CODE_MAX; // DATA_SIZE bytes: the DATA area before the case
export const CASE_SIZE = CASE_DATA + DATA_SIZE;
// DS and ES select the DATA segment (base DATA_BASE, limit 0xffff) instead of the flat one, so
// 16-bit addresses reach the DATA area. FS and GS always select the DATA segment.
export const CASE_FLAG_SEG16 = 1;
// The case runs in 16-bit code (CS.D = 0: default operand and address size 16, 0x66 and 0x67
// select 32): CS selects the CODE16 segment, based at CODE_BASE with a limit of CODE16_LIMIT, so
// EIP is the offset in the code page. SS stays the flat 32-bit stack segment (ESP addresses it).
export const CASE_FLAG_CODE16 = 2;
export const CODE16_LIMIT = CODE_SIZE - 1;

/** CF PF AF ZF SF OF: the arithmetic flags. */
export const EFLAGS_ARITH = 0x8d5;
export const EFLAGS_DF = 0x400;
/** The EFLAGS bits a case may set; IF and bit 1 are always 1. */
export const EFLAGS_INPUT = EFLAGS_ARITH | EFLAGS_DF;

// Output header: the selectors the host's flat segments and the DATA segment use, in the core's
// segment order ES CS SS DS FS GS (FS and GS hold the DATA segment), then the CODE16 segment's
// (an LDT entry made with modify_ldt).
export const OUT_SELECTORS = 7;
export const OUT_HEADER_SIZE = OUT_SELECTORS_U32 + OUT_SELECTORS * 4;

// Result record (after RES_SIGNAL_U32 and RES_VECTOR_U32)
export const RES_ERROR_CODE_U32 = RES_VECTOR_U32 + 4;
export const RES_CR2_U32 = RES_ERROR_CODE_U32 + 4;
export const RES_EIP_U32 = RES_CR2_U32 + 4; // CODE_BASE + CODE_LEN (CODE16: CODE_LEN), or the faulting instruction
export const RES_EFLAGS_U32 = RES_EIP_U32 + 4;
export const RES_REGS_U32 = RES_EFLAGS_U32 + 4; // EAX..EDI as in the case record
export const RES_DATA = RES_REGS_U32 + 8 * 4; // the DATA area afterwards
export const RES_SIZE = RES_DATA + DATA_SIZE;

/** Names of the GPRs in encoding order, as the case and result records hold them. */
export const GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;

/** One test case: what both machines start from. */
export interface DiffCase {
  /** Instruction bytes placed at CODE_BASE (at most CODE_MAX). */
  code: Uint8Array;
  /** EAX..EDI in encoding order. */
  regs: Uint32Array;
  /** Initial EFLAGS; only EFLAGS_INPUT bits count. */
  eflags: number;
  /** CASE_FLAG_SEG16: DS and ES select the DATA segment. */
  seg16: boolean;
  /** CASE_FLAG_CODE16: the case runs in 16-bit code based at CODE_BASE (EIP is the offset in the page). */
  code16: boolean;
  /** The DATA area's initial contents (DATA_SIZE bytes). */
  data: Uint8Array;
}

/** How a case ended on one machine. */
export type CaseEnd =
  | { kind: "done" }
  /** An exception the instruction raised (fault semantics: EIP at the instruction). */
  | { kind: "exception"; vector: number; detail: string }
  /** The core stopped at an instruction it does not implement. */
  | { kind: "unsupported"; opcode: number }
  /** Any other stop (core: budget, device access, fetch fault). */
  | { kind: "other"; detail: string };

/** Where EIP 0 is in a case: CODE_BASE in flat 32-bit code, the code page's start in 16-bit code. */
export const codeOrigin = (c: Pick<DiffCase, "code16">): number => (c.code16 ? 0 : CODE_BASE);

/** What a machine ended with. EIP is codeOrigin + code length when the case ran to its end. */
export interface MachineResult {
  end: CaseEnd;
  eip: number;
  eflags: number;
  regs: Uint32Array;
  data: Uint8Array;
}
