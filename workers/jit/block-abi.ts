/**
 * How a compiled block's function meets the core: what it imports from the core instance
 * (assembly/index.ts exports them) and the locals it keeps. Shared by block-compiler.ts and
 * flag-code.ts.
 */
import type { FunctionImport, GlobalImport } from "./wasm-writer";

/** What compiled blocks import from the core instance (assembly/index.ts exports them). */
export const FUNCTIONS: readonly FunctionImport[] = [
  { module: "core", name: "runMiddleRecord", params: 3, results: 1 },
  { module: "core", name: "runRecords", params: 4, results: 1 },
  { module: "core", name: "leave", params: 3, results: 1 },
  { module: "core", name: "faultAt", params: 1, results: 1 },
  { module: "core", name: "jitCondition", params: 1, results: 1 },
  { module: "core", name: "jitRead", params: 4, results: 1 },
  { module: "core", name: "jitWrite", params: 5, results: 0 },
  { module: "core", name: "jitShift", params: 3, results: 1 },
  { module: "core", name: "jitAlu", params: 4, results: 1 },
];
export const F_MIDDLE = 0;
export const F_RECORDS = 1;
export const F_LEAVE = 2;
export const F_FAULT = 3;
export const F_CONDITION = 4;
export const F_READ = 5;
export const F_WRITE = 6;
export const F_SHIFT = 7;
export const F_ALU = 8;
export const GLOBALS: readonly GlobalImport[] = [
  "codeChanged", "eventCheck", "faultVector", "userOffset", "lazyOp", "lazyDst", "lazySrc", "lazyRes", "lazyTop",
  "blockRetired", "flags",
].map((name) => ({ module: "core", name }));
export const G_CODE_CHANGED = 0;
export const G_EVENT_CHECK = 1;
export const G_FAULT_VECTOR = 2;
export const G_USER_OFFSET = 3;
export const G_LAZY_OP = 4;
export const G_LAZY_DST = 5;
export const G_LAZY_SRC = 6;
export const G_LAZY_RES = 7;
export const G_LAZY_TOP = 8;
export const G_BLOCK_RETIRED = 9;
export const G_FLAGS = 10;

/** The names compiled blocks import from the core's exports. */
export const CORE_IMPORTS: readonly string[] = [...FUNCTIONS, ...GLOBALS].map((i) => i.name);

// Locals of a compiled block: its parameters (EIP at entry, the most instructions it may retire),
// then scratch, the operands and result of the last flag-setting record the block ran itself, a
// memory access's parts, and the instructions retired by earlier rounds of a loop to its start.
export const L_EIP = 0;
export const L_MOST = 1;
export const L_TEMP = 2;
export const L_DST = 3;
export const L_SRC = 4;
export const L_RES = 5;
export const L_OFFSET = 6; // the operand's offset in its segment
export const L_LINEAR = 7;
export const L_ENTRY = 8; // TLB entry index * TLB_ENTRY_SIZE
export const L_VALUE = 9;
export const L_ROUNDS = 10;
export const L_CARRY = 11; // CF before an ADC or SBB
export const LOCALS = 10;
