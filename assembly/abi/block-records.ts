// The records of a decoded block (assembly/cpu/block-decode.ts writes them, block-run.ts runs
// them, workers/jit/ compiles them): one per instruction, operands kept symbolic. Shared by the
// core and the host, so plain constants only.

// Block layout (assembly/cpu/blocks.ts): a header, the records, then a copy of the bytes they
// were decoded from.
export const B_COUNT = 0; // u16: records, the K_STEP one included
export const B_BYTES = 2; // u16: bytes the decoded records cover
export const B_HITS = 4; // u16: runs, counted up to the JIT threshold
export const B_COMPILED = 6; // u16: index of the block's compiled function in the function table; 0: none
// The block found after this one last time (a cache of the table lookup for its code address),
// good while the epoch and the mode are the same.
export const B_NEXT_HOST = 8; // u32: shared-memory address of the code; 0: none
export const B_NEXT_BLOCK = 12; // u32
export const B_NEXT_EPOCH = 16; // u32
export const B_NEXT_MODE = 20; // u32
export const B_RECORDS = 24;

// Record layout: 16 bytes.
export const RECORD_SIZE = 16;
export const R_KIND = 0; // u8: K_*
export const R_LEN = 1; // u8: instruction length
export const R_A = 2; // u8: destination register (or the only one)
export const R_B = 3; // u8: source register
export const R_SIZE = 4; // u8: operand size in bytes
export const R_OP = 5; // u8: ALU operation (| ALU_NO_WRITE), group-2 operation, condition, or source size
export const R_BASE = 6; // u8: EA base register (NO_REG for none) | segment << 4
export const R_INDEX = 7; // u8: EA index register (NO_REG for none) | scale << 4 | ADDR16
export const R_IMM = 8; // u32: immediate (sign-extended where the instruction says) or relative target
export const R_DISP = 12; // u32: EA displacement

export const NO_REG = 8;
export const ADDR16 = 0x80;
/** R_OP flag: TEST, an AND that writes nothing. */
export const ALU_NO_WRITE = 8;
/** R_OP flag of MOVX: sign extension. */
export const MOVX_SIGNED = 8;

// Record kinds, dense from 0 so the runner's switch is a br_table.
export const K_STEP = 0; // the interpreter runs this instruction (always a block's last record)
export const K_ALU_RR = 1;
export const K_ALU_RI = 2;
export const K_ALU_RM = 3; // register op= memory
export const K_ALU_MR = 4; // memory op= register
export const K_ALU_MI = 5;
export const K_MOV_RR = 6;
export const K_MOV_RI = 7;
export const K_MOV_RM = 8;
export const K_MOV_MR = 9;
export const K_MOV_MI = 10;
export const K_LEA = 11;
export const K_INC = 12;
export const K_DEC = 13;
export const K_NOT = 14;
export const K_NEG = 15;
export const K_SHIFT_RI = 16;
export const K_SHIFT_RC = 17; // count in CL
export const K_IMUL_RR = 18; // A = A * B
export const K_IMUL_RM = 19; // A = A * memory
export const K_IMUL_RRI = 20; // A = B * imm
export const K_MOVX_RR = 21;
export const K_MOVX_RM = 22;
export const K_CMOV_RR = 23;
export const K_CMOV_RM = 24;
export const K_SETCC = 25;
export const K_PUSH_R = 26;
export const K_PUSH_I = 27;
export const K_POP_R = 28;
export const K_CONVERT = 29; // CBW/CWDE
export const K_CONVERT_WIDE = 30; // CWD/CDQ
export const K_NOP = 31;
// The commonest kinds again for 32-bit operands, without the operand size's branches.
export const K_ALU_RR32 = 32;
export const K_ALU_RI32 = 33;
export const K_MOV_RR32 = 34;
export const K_INC32 = 35;
export const K_DEC32 = 36;
// Branches: a taken one leaves the block.
export const K_JCC = 37;
export const K_JMP = 38;
export const K_CALL = 39;
export const K_RET = 40;
// The interpreter runs this instruction (FWAIT, flag operations) and the block goes on when it
// ends where it should, with nothing changed that the block relies on.
export const K_INTERPRET = 41;
export const K_X87 = 42; // D8-DF: R_OP the opcode's low bits, R_B the ModRM byte

// ALU operations (R_OP of the K_ALU_* kinds; ModRM reg or opcode bits 3-5).
export const ALU_ADD = 0;
export const ALU_OR = 1;
export const ALU_ADC = 2;
export const ALU_SBB = 3;
export const ALU_AND = 4;
export const ALU_SUB = 5;
export const ALU_XOR = 6;
export const ALU_CMP = 7;

// Lazy flags (assembly/cpu/flags.ts), which compiled blocks record as the core does: how the
// arithmetic flags are to be computed from the recorded operands.
export const LAZY_NONE = 0; // `flags` holds them
export const LAZY_ADD = 1;
export const LAZY_SUB = 2;
export const LAZY_LOGIC = 3;
export const LAZY_INC = 4; // CF kept in `flags`
export const LAZY_DEC = 5; // CF kept in `flags`
