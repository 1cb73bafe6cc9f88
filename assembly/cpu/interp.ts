// The first slice of the x86 interpreter: enough instructions to run a small real-mode or
// 32-bit program (MOV to registers and memory offsets, IN/OUT, JMP, NOP, HLT) with the
// operand- and address-size prefixes. Segment limits, paging and faults are not modelled yet:
// linear addresses are the segment base plus the offset, and an opcode outside this set stops
// the vCPU with EXIT_UNSUPPORTED rather than guessing. The full i686 core grows here.

import {
  REG_GPR_U64, REG_RIP_U64, REG_SEG_BASE, SEG_SIZE, SEG_BASE_U64, SEG_ATTRS_U16, SEG_ATTR_DB,
  RUN_EXIT_DETAIL_U32, EXIT_NONE, EXIT_HLT, EXIT_UNSUPPORTED, EXIT_FETCH,
} from "../abi/layout";
import { ramAddress, readPhys, writePhys, readPort, writePort } from "../guest-memory";

const SEG_CS = 1;
const SEG_DS = 3;
const REG_EAX = 0;
const REG_EDX = 2;

function segBase(block: usize, seg: i32): u32 {
  return <u32>load<u64>(block + REG_SEG_BASE + <usize>seg * SEG_SIZE + SEG_BASE_U64);
}

function getReg(block: usize, reg: i32, size: i32): u32 {
  const at = block + REG_GPR_U64 + (<usize>reg << 3);
  if (size == 4) return load<u32>(at);
  if (size == 2) return <u32>load<u16>(at);
  return <u32>load<u8>(at);
}

function setReg(block: usize, reg: i32, size: i32, value: u32): void {
  const at = block + REG_GPR_U64 + (<usize>reg << 3);
  if (size == 4) store<u32>(at, value);
  else if (size == 2) store<u16>(at, <u16>value);
  else store<u8>(at, <u8>value);
}

/** 8-bit register encoding: 0-3 are AL CL DL BL, 4-7 are AH CH DH BH. */
function setReg8(block: usize, reg: i32, value: u32): void {
  store<u8>(block + REG_GPR_U64 + (<usize>(reg & 3) << 3) + <usize>(reg >> 2), <u8>value);
}

// Instruction fetch state for the instruction being decoded (per instance, never shared).
let fetchLinear: u32 = 0;
let fetchFailed = false;

function fetch8(block: usize): u32 {
  const at = ramAddress(block, <u64>fetchLinear);
  fetchLinear++;
  if (at == 0) {
    fetchFailed = true;
    return 0;
  }
  return <u32>load<u8>(at);
}

function fetchImm(block: usize, size: i32): u32 {
  let value: u32 = 0;
  for (let i = 0; i < size; i++) value |= fetch8(block) << (<u32>i * 8);
  return value;
}

/** Executes one instruction; returns EXIT_NONE to go on, or the reason to stop. */
export function step(block: usize): i32 {
  const ip = <u32>load<u64>(block + REG_RIP_U64);
  const csBase = segBase(block, SEG_CS);
  const big = (load<u16>(block + REG_SEG_BASE + SEG_CS * SEG_SIZE + SEG_ATTRS_U16) & SEG_ATTR_DB) != 0;
  let opSize: i32 = big ? 4 : 2;
  let addrSize: i32 = big ? 4 : 2;
  fetchLinear = csBase + ip;
  fetchFailed = false;

  let op = fetch8(block);
  for (let prefixes = 0; prefixes < 14 && (op == 0x66 || op == 0x67); prefixes++) {
    if (op == 0x66) opSize = big ? 2 : 4;
    else addrSize = big ? 2 : 4;
    op = fetch8(block);
  }
  if (fetchFailed) {
    store<u32>(block + RUN_EXIT_DETAIL_U32, fetchLinear - 1);
    return EXIT_FETCH;
  }

  let jump: u32 = 0; // relative displacement of a taken jump
  let jumped = false;
  let exit = EXIT_NONE;
  switch (op) {
    case 0x90: // NOP
      break;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV AL/eAX <-> moffs
      const size = (op & 1) != 0 ? opSize : 1;
      const addr = segBase(block, SEG_DS) + fetchImm(block, addrSize);
      if (fetchFailed) break;
      if (op < 0xa2) setReg(block, REG_EAX, size, <u32>readPhys(block, <u64>addr, size));
      else writePhys(block, <u64>addr, size, <u64>getReg(block, REG_EAX, size));
      break;
    }
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: // MOV r8, imm8
      setReg8(block, op & 7, fetch8(block));
      break;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: // MOV r, imm
      setReg(block, op & 7, opSize, fetchImm(block, opSize));
      break;
    case 0xe4: case 0xe5: { // IN AL/eAX, imm8
      const size = (op & 1) != 0 ? opSize : 1;
      const port = fetch8(block);
      if (!fetchFailed) setReg(block, REG_EAX, size, readPort(block, port, size));
      break;
    }
    case 0xe6: case 0xe7: { // OUT imm8, AL/eAX
      const size = (op & 1) != 0 ? opSize : 1;
      const port = fetch8(block);
      if (!fetchFailed) writePort(block, port, size, getReg(block, REG_EAX, size));
      break;
    }
    case 0xec: case 0xed: { // IN AL/eAX, DX
      const size = (op & 1) != 0 ? opSize : 1;
      setReg(block, REG_EAX, size, readPort(block, getReg(block, REG_EDX, 2), size));
      break;
    }
    case 0xee: case 0xef: { // OUT DX, AL/eAX
      const size = (op & 1) != 0 ? opSize : 1;
      writePort(block, getReg(block, REG_EDX, 2), size, getReg(block, REG_EAX, size));
      break;
    }
    case 0xe9: { // JMP rel16/32
      const rel = fetchImm(block, opSize);
      jump = opSize == 4 ? rel : <u32><i32><i16>rel;
      jumped = true;
      break;
    }
    case 0xeb: // JMP rel8
      jump = <u32><i32><i8>fetch8(block);
      jumped = true;
      break;
    case 0xf4: // HLT
      exit = EXIT_HLT;
      break;
    default:
      store<u32>(block + RUN_EXIT_DETAIL_U32, op);
      return EXIT_UNSUPPORTED;
  }
  if (fetchFailed) {
    store<u32>(block + RUN_EXIT_DETAIL_U32, fetchLinear - 1);
    return EXIT_FETCH;
  }
  // A jump adds to the address of the next instruction; IP wraps at 16 bits in 16-bit code, and
  // a jump with a 16-bit operand size truncates it too.
  const next = fetchLinear - csBase + jump;
  const wide = jumped ? opSize == 4 : big;
  store<u64>(block + REG_RIP_U64, <u64>(wide ? next : next & 0xffff));
  return exit;
}
