// Decoding one instruction into a compact record for a decoded block (blocks.ts), which
// block-run.ts executes without fetching or decoding again. The common integer forms and the x87
// escapes have a record kind; anything else (and anything with LOCK or REP) ends the block with
// K_STEP, which hands that instruction to the interpreter. Operands are kept symbolic (register
// numbers, the effective address's parts), never their values, so a record stays valid while
// registers change.

import {
  ADDR16, ALU_NO_WRITE, K_ALU_MI, K_ALU_MR, K_ALU_RI, K_ALU_RI32, K_ALU_RM, K_ALU_RR, K_ALU_RR32, K_CALL, K_CMOV_RM,
  K_CMOV_RR, K_CONVERT, K_CONVERT_WIDE, K_DEC, K_DEC32, K_IMUL_RM, K_IMUL_RR, K_IMUL_RRI, K_INC, K_INC32, K_INTERPRET,
  K_JCC, K_JMP, K_LEA, K_MOV_MI, K_MOV_MR, K_MOV_RI, K_MOV_RM, K_MOV_RR, K_MOV_RR32, K_MOVX_RM, K_MOVX_RR, K_NEG,
  K_NOP, K_NOT, K_POP_R, K_PUSH_I, K_PUSH_R, K_RET, K_SETCC, K_SHIFT_RC, K_SHIFT_RI, K_STEP, K_X87, MOVX_SIGNED,
  NO_REG, R_A, R_B, R_BASE, R_DISP, R_IMM, R_INDEX, R_KIND, R_LEN, R_OP, R_SIZE, RECORD_SIZE,
} from "../abi/block-records";
import { SEG_DS, SEG_SS } from "../abi/layout";
import { ALU_AND } from "./alu";

/**
 * Whether records of `kind` end their block: unconditional transfers. A conditional jump does
 * not: taken, it leaves the block there; not taken, the block goes on.
 */
// @ts-ignore: decorator
@inline export function endsBlock(kind: i32): bool {
  return kind >= K_JMP && kind <= K_RET;
}

// Cursor over the instruction's bytes: reads past `limit` (the page's end) give 0 and set `over`.
let at: usize = 0;
let limit: usize = 0;
let over = false;

function byte(): u32 {
  if (at >= limit) {
    over = true;
    return 0;
  }
  return <u32>load<u8>(at++);
}

function bytes(n: i32): u32 {
  let value: u32 = 0;
  for (let i = 0; i < n; i++) value |= byte() << (<u32>i << 3);
  return value;
}

// ModRM of the instruction being decoded.
let mod: u32 = 0;
let regField: u32 = 0;
let rmField: u32 = 0;

/** Reads ModRM (and SIB, displacement) and fills the record's EA fields. */
function modrm(r: usize, addrSize: i32, segOverride: i32): void {
  const m = byte();
  mod = m >> 6;
  regField = (m >> 3) & 7;
  rmField = m & 7;
  if (mod == 3) return;
  let base = NO_REG;
  let index = NO_REG;
  let scale: u32 = 0;
  let disp: u32 = 0;
  let seg = SEG_DS;
  if (addrSize == 2) {
    // BX+SI BX+DI BP+SI BP+DI SI DI BP/disp16 BX
    if (rmField < 4) {
      base = (rmField & 2) != 0 ? 5 : 3;
      index = (rmField & 1) != 0 ? 7 : 6;
      if (base == 5) seg = SEG_SS;
    } else if (rmField == 4) base = 6;
    else if (rmField == 5) base = 7;
    else if (rmField == 7) base = 3;
    else if (mod != 0) {
      base = 5;
      seg = SEG_SS;
    }
    if (rmField == 6 && mod == 0) disp = bytes(2);
    else if (mod == 1) disp = <u32><i32><i8>byte();
    else if (mod == 2) disp = bytes(2);
  } else {
    base = rmField;
    if (rmField == 4) {
      const sib = byte();
      scale = sib >> 6;
      index = (sib >> 3) & 7;
      if (index == 4) index = NO_REG;
      base = sib & 7;
    }
    if (base == 5 && mod == 0) {
      base = NO_REG;
      disp = bytes(4);
    } else if (base == 4 || base == 5) seg = SEG_SS;
    if (mod == 1) disp = <u32><i32><i8>byte();
    else if (mod == 2) disp = bytes(4);
  }
  if (segOverride >= 0) seg = segOverride;
  store<u8>(r, <u8>(base | (<u32>seg << 4)), R_BASE);
  store<u8>(r, <u8>(index | (scale << 4) | (addrSize == 2 ? ADDR16 : 0)), R_INDEX);
  store<u32>(r, disp, R_DISP);
}

/** Fills a record's common fields. */
// @ts-ignore: decorator
@inline function put(r: usize, kind: i32, a: u32, b: u32, size: i32, op: u32): void {
  store<u8>(r, <u8>kind, R_KIND);
  store<u8>(r, <u8>a, R_A);
  store<u8>(r, <u8>b, R_B);
  store<u8>(r, <u8>size, R_SIZE);
  store<u8>(r, <u8>op, R_OP);
}

/**
 * Decodes the instruction at shared-memory address `p` (in code of the size `big` says) into
 * the record at `r`; `end` is the end of its page. Returns its length, or 0 when it has no record
 * kind or does not lie whole before `end`: the interpreter runs it.
 */
export function decodeRecord(p: usize, end: usize, big: bool, r: usize): i32 {
  at = p;
  limit = end;
  over = false;
  let opSize = big ? 4 : 2;
  let addrSize = big ? 4 : 2;
  let segOverride = -1;
  let op = byte();
  for (let n = 0; ; n++) {
    if (n == 4) return 0;
    if (op == 0x66) opSize = big ? 2 : 4;
    else if (op == 0x67) addrSize = big ? 2 : 4;
    else if (op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e) segOverride = <i32>((op >> 3) & 3);
    else if (op == 0x64 || op == 0x65) segOverride = <i32>(op - 0x60);
    else break;
    op = byte();
  }
  store<u32>(r, 0, R_IMM);
  const kind = decodeOpcode(op, r, opSize, addrSize, segOverride);
  if (kind < 0 || over) return 0;
  if (load<u8>(r, R_SIZE) == 4) store<u8>(r, <u8>wide(kind), R_KIND);
  const length = <i32>(at - p);
  store<u8>(r, <u8>length, R_LEN);
  return length;
}

/** The 32-bit kind for `kind`, where there is one. */
function wide(kind: i32): i32 {
  switch (kind) {
    case K_ALU_RR: return K_ALU_RR32;
    case K_ALU_RI: return K_ALU_RI32;
    case K_MOV_RR: return K_MOV_RR32;
    case K_INC: return K_INC32;
    case K_DEC: return K_DEC32;
    default: return kind;
  }
}

/** The record kind of opcode `op` with its operands read into `r`, or -1. */
function decodeOpcode(op: u32, r: usize, opSize: i32, addrSize: i32, seg: i32): i32 {
  if (op < 0x40 && (op & 7) < 6) {
    const aluOp = (op >> 3) & 7;
    const size = (op & 1) != 0 ? opSize : 1;
    if ((op & 7) >= 4) {
      put(r, K_ALU_RI, 0, 0, size, aluOp);
      store<u32>(r, bytes(size), R_IMM);
      return K_ALU_RI;
    }
    modrm(r, addrSize, seg);
    const toReg = (op & 2) != 0;
    if (mod == 3) {
      put(r, K_ALU_RR, toReg ? regField : rmField, toReg ? rmField : regField, size, aluOp);
      return K_ALU_RR;
    }
    put(r, toReg ? K_ALU_RM : K_ALU_MR, regField, regField, size, aluOp);
    return toReg ? K_ALU_RM : K_ALU_MR;
  }
  if (op >= 0x40 && op < 0x60) {
    const kinds: i32 = op < 0x48 ? K_INC : op < 0x50 ? K_DEC : op < 0x58 ? K_PUSH_R : K_POP_R;
    put(r, kinds, op & 7, 0, opSize, 0);
    return kinds;
  }
  if (op >= 0x70 && op < 0x80) {
    put(r, K_JCC, 0, 0, opSize, op & 15);
    store<u32>(r, <u32><i32><i8>byte(), R_IMM);
    return K_JCC;
  }
  if (op >= 0xb0 && op < 0xc0) {
    const size = op < 0xb8 ? 1 : opSize;
    put(r, K_MOV_RI, op & 7, 0, size, 0);
    store<u32>(r, bytes(size), R_IMM);
    return K_MOV_RI;
  }
  switch (op) {
    case 0x68: case 0x6a:
      put(r, K_PUSH_I, 0, 0, opSize, 0);
      store<u32>(r, op == 0x68 ? bytes(opSize) : <u32><i32><i8>byte(), R_IMM);
      return K_PUSH_I;
    case 0x69: case 0x6b:
      modrm(r, addrSize, seg);
      if (mod != 3) return -1;
      put(r, K_IMUL_RRI, regField, rmField, opSize, 0);
      store<u32>(r, op == 0x69 ? bytes(opSize) : <u32><i32><i8>byte(), R_IMM);
      return K_IMUL_RRI;
    case 0x80: case 0x81: case 0x83: {
      const size = op == 0x80 ? 1 : opSize;
      modrm(r, addrSize, seg);
      const kind = mod == 3 ? K_ALU_RI : K_ALU_MI;
      put(r, kind, rmField, 0, size, regField);
      store<u32>(r, op == 0x81 ? bytes(size) : op == 0x83 ? <u32><i32><i8>byte() : byte(), R_IMM);
      return kind;
    }
    case 0x84: case 0x85: {
      const size = op == 0x84 ? 1 : opSize;
      modrm(r, addrSize, seg);
      const kind = mod == 3 ? K_ALU_RR : K_ALU_MR;
      put(r, kind, rmField, regField, size, ALU_AND | ALU_NO_WRITE);
      return kind;
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b: {
      const size = (op & 1) != 0 ? opSize : 1;
      const toReg = (op & 2) != 0;
      modrm(r, addrSize, seg);
      if (mod == 3) {
        put(r, K_MOV_RR, toReg ? regField : rmField, toReg ? rmField : regField, size, 0);
        return K_MOV_RR;
      }
      put(r, toReg ? K_MOV_RM : K_MOV_MR, regField, regField, size, 0);
      return toReg ? K_MOV_RM : K_MOV_MR;
    }
    case 0x8d:
      modrm(r, addrSize, seg);
      if (mod == 3) return -1;
      put(r, K_LEA, regField, 0, opSize, 0);
      return K_LEA;
    case 0x90:
      put(r, K_NOP, 0, 0, opSize, 0);
      return K_NOP;
    case 0x98: case 0x99: {
      const kind = op == 0x98 ? K_CONVERT : K_CONVERT_WIDE;
      put(r, kind, 0, 0, opSize, 0);
      return kind;
    }
    case 0xa8: case 0xa9: {
      const size = op == 0xa8 ? 1 : opSize;
      put(r, K_ALU_RI, 0, 0, size, ALU_AND | ALU_NO_WRITE);
      store<u32>(r, bytes(size), R_IMM);
      return K_ALU_RI;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = (op & 1) != 0 ? opSize : 1;
      modrm(r, addrSize, seg);
      if (mod != 3) return -1;
      const kind = op >= 0xd2 ? K_SHIFT_RC : K_SHIFT_RI;
      put(r, kind, rmField, 0, size, regField);
      store<u32>(r, op < 0xd0 ? byte() : 1, R_IMM);
      return kind;
    }
    case 0xc2: case 0xc3:
      put(r, K_RET, 0, 0, opSize, 0);
      store<u32>(r, op == 0xc2 ? bytes(2) : 0, R_IMM);
      return K_RET;
    case 0xc6: case 0xc7: {
      const size = op == 0xc6 ? 1 : opSize;
      modrm(r, addrSize, seg);
      if (regField != 0) return -1;
      const kind = mod == 3 ? K_MOV_RI : K_MOV_MI;
      put(r, kind, rmField, 0, size, 0);
      store<u32>(r, bytes(size), R_IMM);
      return kind;
    }
    case 0xe8: case 0xe9: case 0xeb: {
      const kind = op == 0xe8 ? K_CALL : K_JMP;
      put(r, kind, 0, 0, opSize, 0);
      store<u32>(r, op == 0xeb ? <u32><i32><i8>byte() : relative(opSize), R_IMM);
      return kind;
    }
    case 0xf6: case 0xf7: {
      const size = op == 0xf6 ? 1 : opSize;
      modrm(r, addrSize, seg);
      if (regField < 2) {
        const kind = mod == 3 ? K_ALU_RI : K_ALU_MI;
        put(r, kind, rmField, 0, size, ALU_AND | ALU_NO_WRITE);
        store<u32>(r, bytes(size), R_IMM);
        return kind;
      }
      if (mod != 3 || regField > 3) return -1;
      const kind = regField == 2 ? K_NOT : K_NEG;
      put(r, kind, rmField, 0, size, 0);
      return kind;
    }
    case 0xfe: case 0xff: {
      modrm(r, addrSize, seg);
      if (mod != 3 || regField > 1) return -1;
      const kind = regField == 0 ? K_INC : K_DEC;
      put(r, kind, rmField, 0, op == 0xfe ? 1 : opSize, 0);
      return kind;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      modrm(r, addrSize, seg);
      put(r, K_X87, 0, (mod << 6) | (regField << 3) | rmField, opSize, op & 7);
      return K_X87;
    case 0x9b: case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: // FWAIT CMC CLC STC CLD STD
      put(r, K_INTERPRET, 0, 0, opSize, 0);
      return K_INTERPRET;
    case 0x0f:
      return decodeTwoByte(byte(), r, opSize, addrSize, seg);
  }
  return -1;
}

/** A rel16/32 displacement of the operand size, sign-extended. */
function relative(opSize: i32): u32 {
  return opSize == 2 ? <u32><i32><i16>bytes(2) : bytes(4);
}

function decodeTwoByte(op: u32, r: usize, opSize: i32, addrSize: i32, seg: i32): i32 {
  if (op >= 0x80 && op < 0x90) {
    put(r, K_JCC, 0, 0, opSize, op & 15);
    store<u32>(r, relative(opSize), R_IMM);
    return K_JCC;
  }
  if (op >= 0x40 && op < 0x50) {
    modrm(r, addrSize, seg);
    const kind = mod == 3 ? K_CMOV_RR : K_CMOV_RM;
    put(r, kind, regField, rmField, opSize, op & 15);
    return kind;
  }
  if (op >= 0x90 && op < 0xa0) {
    modrm(r, addrSize, seg);
    if (mod != 3) return -1;
    put(r, K_SETCC, rmField, 0, 1, op & 15);
    return K_SETCC;
  }
  if (op == 0xaf) {
    modrm(r, addrSize, seg);
    const kind = mod == 3 ? K_IMUL_RR : K_IMUL_RM;
    put(r, kind, regField, rmField, opSize, 0);
    return kind;
  }
  if (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf) {
    modrm(r, addrSize, seg);
    const kind = mod == 3 ? K_MOVX_RR : K_MOVX_RM;
    put(r, kind, regField, rmField, opSize, ((op & 1) != 0 ? 2 : 1) | (op >= 0xb8 ? MOVX_SIGNED : 0));
    return kind;
  }
  return -1;
}
