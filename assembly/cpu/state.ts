// Architectural state access for the vCPU being run. The state lives in the vCPU block in shared
// memory; `cpu` is that block's address, set by run() for the duration of the call (a wasm
// global private to this instance). EIP is kept in a global while running and stored back at
// every exit, so the host always sees it in the block between calls.

import {
  REG_GPR_U64, REG_RIP_U64, REG_SEG_BASE, SEG_BASE_U64, SEG_LIMIT_U32, SEG_SELECTOR_U16,
  SEG_ATTRS_U16, SEG_SIZE, SEG_ATTR_DB, REG_CR_U64, SEG_CS, SEG_SS,
} from "../abi/layout";

/** Address of the running vCPU's block. */
export let cpu: usize = 0;
/** The instruction pointer while running (the block's copy is current only between calls). */
export let eip: u32 = 0;
/** EIP of the instruction being executed (faults restart it). */
export let startEip: u32 = 0;

/**
 * CS's base, limit and D bit, cached for instruction fetch: CS changes only through setSegment()
 * while the vCPU runs, and the host may change it only between run() calls.
 */
export let csBase: u32 = 0;
export let csLimit: u32 = 0;
export let csBig = false;

function cacheCodeSegment(): void {
  csBase = segBase(SEG_CS);
  csLimit = segLimit(SEG_CS);
  csBig = (segAttrs(SEG_CS) & SEG_ATTR_DB) != 0;
}

export function enter(block: usize): void {
  cpu = block;
  eip = <u32>load<u64>(block + REG_RIP_U64);
  cacheCodeSegment();
}

export function leave(): void {
  store<u64>(cpu + REG_RIP_U64, <u64>eip);
}

export function setEip(value: u32): void {
  eip = value;
}

export function beginInstruction(): void {
  startEip = eip;
}

/** The same for an instruction of a decoded block, which keeps EIP to itself until it ends. */
// @ts-ignore: decorator
@inline export function beginInstructionAt(at: u32): void {
  startEip = at;
}

// ---- EFLAGS bits ----
export const CF: u32 = 1 << 0;
export const PF: u32 = 1 << 2;
export const AF: u32 = 1 << 4;
export const ZF: u32 = 1 << 6;
export const SF: u32 = 1 << 7;
export const TF: u32 = 1 << 8;
export const IF: u32 = 1 << 9;
export const DF: u32 = 1 << 10;
export const OF: u32 = 1 << 11;
export const IOPL: u32 = 3 << 12;
export const NT: u32 = 1 << 14;
export const RF: u32 = 1 << 16;
export const VM: u32 = 1 << 17;
export const AC: u32 = 1 << 18;
export const ID: u32 = 1 << 21;
export const ARITH_FLAGS: u32 = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of EFLAGS always reads as 1. */
export const FLAGS_FIXED: u32 = 2;

// ---- CR0 / CR4 bits ----
export const CR0_PE: u32 = 1;
export const CR0_WP: u32 = 1 << 16;
export const CR0_PG: u32 = 1 << 31;
export const CR4_PSE: u32 = 1 << 4;
export const CR4_PAE: u32 = 1 << 5;
export const CR4_PGE: u32 = 1 << 7;
/** IA32_EFER.NXE: no-execute pages under PAE. */
export const EFER_NXE: u32 = 1 << 11;

// ---- General registers (0-7: EAX ECX EDX EBX ESP EBP ESI EDI) ----

/** Register numbers as ModRM and the opcode map encode them. */
export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

// @ts-ignore: decorator
@inline export function reg32(r: i32): u32 {
  return load<u32>(cpu + (<usize>r << 3), REG_GPR_U64);
}

// @ts-ignore: decorator
@inline export function setReg32(r: i32, value: u32): void {
  store<u32>(cpu + (<usize>r << 3), value, REG_GPR_U64);
}

// @ts-ignore: decorator
@inline export function reg16(r: i32): u32 {
  return <u32>load<u16>(cpu + (<usize>r << 3), REG_GPR_U64);
}

// @ts-ignore: decorator
@inline export function setReg16(r: i32, value: u32): void {
  store<u16>(cpu + (<usize>r << 3), <u16>value, REG_GPR_U64);
}

/** 8-bit registers: 0-3 are AL CL DL BL, 4-7 are AH CH DH BH. */
// @ts-ignore: decorator
@inline export function reg8(r: i32): u32 {
  return <u32>load<u8>(cpu + (<usize>(r & 3) << 3) + <usize>(r >> 2), REG_GPR_U64);
}

// @ts-ignore: decorator
@inline export function setReg8(r: i32, value: u32): void {
  store<u8>(cpu + (<usize>(r & 3) << 3) + <usize>(r >> 2), <u8>value, REG_GPR_U64);
}

/** Register `r` at operand size `size` (1, 2 or 4 bytes). */
// @ts-ignore: decorator
@inline export function getReg(r: i32, size: i32): u32 {
  return size == 4 ? reg32(r) : size == 2 ? reg16(r) : reg8(r);
}

/** Writes register `r` at operand size `size`; 8- and 16-bit writes keep the other bits. */
// @ts-ignore: decorator
@inline export function setReg(r: i32, size: i32, value: u32): void {
  if (size == 4) setReg32(r, value);
  else if (size == 2) setReg16(r, value);
  else setReg8(r, value);
}

// ---- Segment registers (0-5: ES CS SS DS FS GS; 6 LDTR; 7 TR) ----

// @ts-ignore: decorator
@inline export function segField(seg: i32): usize {
  return cpu + REG_SEG_BASE + <usize>seg * SEG_SIZE;
}

// @ts-ignore: decorator
@inline export function segBase(seg: i32): u32 {
  return <u32>load<u64>(segField(seg) + SEG_BASE_U64);
}

// @ts-ignore: decorator
@inline export function segLimit(seg: i32): u32 {
  return load<u32>(segField(seg) + SEG_LIMIT_U32);
}

// @ts-ignore: decorator
@inline export function segSelector(seg: i32): u32 {
  return <u32>load<u16>(segField(seg) + SEG_SELECTOR_U16);
}

// @ts-ignore: decorator
@inline export function segAttrs(seg: i32): u32 {
  return <u32>load<u16>(segField(seg) + SEG_ATTRS_U16);
}

export function setSegment(seg: i32, selector: u32, base: u32, limit: u32, attrs: u32): void {
  const at = segField(seg);
  store<u16>(at + SEG_SELECTOR_U16, <u16>selector);
  store<u64>(at + SEG_BASE_U64, <u64>base);
  store<u32>(at + SEG_LIMIT_U32, limit);
  store<u16>(at + SEG_ATTRS_U16, <u16>attrs);
  if (seg == SEG_CS) cacheCodeSegment();
}



/** True when the stack segment is 32-bit (SS.B): ESP rather than SP is the stack pointer. */
// @ts-ignore: decorator
@inline export function stackIs32(): bool {
  return (segAttrs(SEG_SS) & SEG_ATTR_DB) != 0;
}

// ---- Control registers ----

// @ts-ignore: decorator
@inline export function cr(n: i32): u32 {
  return <u32>load<u64>(cpu + REG_CR_U64 + (<usize>n << 3));
}

export function setCr(n: i32, value: u32): void {
  store<u64>(cpu + REG_CR_U64 + (<usize>n << 3), <u64>value);
}

/** Protected mode (CR0.PE). */
// @ts-ignore: decorator
@inline export function protectedMode(): bool {
  return (cr(0) & CR0_PE) != 0;
}

/** The current privilege level: CS.RPL in protected mode, 0 in real mode. */
// @ts-ignore: decorator
@inline export function cpl(): u32 {
  return protectedMode() ? segSelector(SEG_CS) & 3 : 0;
}
