// The decoded-block cache. A block is the run of instructions from one address to the first
// unconditional branch (or the first instruction without a record kind, or the page's end),
// decoded once into records (block-decode.ts) that block-run.ts executes. Blocks live in this
// vCPU's arena (CODE_* in abi/layout.ts), named by the shared-memory address of their first
// byte and by CS.D, the only mode bit decoding depends on: a block is found through the current
// translation of CS:EIP, so paging and segment changes need no flush.
//
// Keeping blocks true to memory:
// - this vCPU's writes: pages holding blocks are kept out of the write TLB, so every store to one
//   takes the slow path, which drops the page's blocks (codeWritten) and tells a running block to
//   stop after the storing instruction (codeChanged); a page whose blocks were dropped again and
//   again (code beside data it writes) is left to the interpreter until the next flush;
// - anyone else's writes (the owner between runs, device workers, other vCPUs): a block's bytes
//   are compared with a copy before it is used again after a run() entry or a device access
//   (which may be how the guest learns that a device wrote RAM).

import {
  CODE_DROPS_BASE, CODE_DROPS_COUNT_U32, CODE_DROPS_ENTRIES, CODE_DROPS_PAGE_U32, CODE_DROPS_SIZE,
  CODE_ENTRY_BLOCK_U32, CODE_ENTRY_EPOCH_U32, CODE_ENTRY_HOST_U32, CODE_ENTRY_MODE_U32, CODE_ENTRY_SIZE,
  CODE_HOT_BASE, CODE_HOT_COUNT_U32, CODE_HOT_ENTRIES, CODE_HOT_ENTRIES_BASE, CODE_HOT_FLUSHES_U32,
  CODE_PAGES_BASE, CODE_POOL_BASE, CODE_TABLE_ENTRIES, VCPU_BLOCK_BASE, VCPU_BLOCK_SIZE,
  VCPU_INTERPRET_ONLY_U32, VCPU_JIT_THRESHOLD_U32, VMH_BASE, VMH_CODE_BASE_U32, VMH_CODE_STRIDE_U32, VMH_RAM_BASE_U32, VMH_RAM_SIZE_U32,
} from "../abi/layout";
import {
  B_BYTES, B_COMPILED, B_COUNT, B_HITS, B_NEXT_BLOCK, B_NEXT_EPOCH, B_NEXT_HOST, B_NEXT_MODE, B_RECORDS, K_STEP,
  R_KIND, R_LEN, RECORD_SIZE,
} from "../abi/block-records";
import { decodeRecord, endsBlock } from "./block-decode";
import { codeAddress, dropWritable } from "./memory";
import { cpu, csBase, csBig, csLimit, eip } from "./state";

/** Records per block at most: bounds a block's size and the instructions it retires at once. */
const MAX_RECORDS = 64;
const MAX_BLOCK = B_RECORDS + MAX_RECORDS * (RECORD_SIZE + 15);
/** Times writes may drop a page's blocks before the page is left to the interpreter. */
const MAX_DROPS: u32 = 8;

let arena: usize = 0;
let poolNext: usize = 0;
/** Counts run() calls and device accesses: a block last checked in an older one is compared with memory first. */
let epoch: u32 = 0;
let enabled = true;
/** Runs of a block before it is queued for compiling (VCPU_JIT_THRESHOLD_U32); 0: never. */
let jitThreshold: u32 = 0;
/** The block findBlock() found last, whose link to the next one saves a table lookup. */
let previous: usize = 0;
/** Set when a write dropped blocks: the running block stops after the current instruction. */
export let codeChanged = false;

/** At run() entry: finds this vCPU's arena and starts a new epoch. */
export function enterBlocks(): void {
  const index = (cpu - VCPU_BLOCK_BASE) / VCPU_BLOCK_SIZE;
  const base = <usize>load<u32>(VMH_BASE + VMH_CODE_BASE_U32) + index * <usize>load<u32>(VMH_BASE + VMH_CODE_STRIDE_U32);
  if (base != arena) {
    arena = base;
    flushBlocks();
  }
  epoch++;
  enabled = load<u32>(cpu + VCPU_INTERPRET_ONLY_U32) == 0;
  jitThreshold = min(load<u32>(cpu + VCPU_JIT_THRESHOLD_U32), 0xffff);
}

/** Drops every block. */
function flushBlocks(): void {
  memory.fill(arena, 0, CODE_POOL_BASE);
  memory.fill(arena + CODE_DROPS_BASE, 0, CODE_DROPS_ENTRIES * CODE_DROPS_SIZE);
  memory.fill(arena + CODE_PAGES_BASE, 0, pageBitmapBytes());
  poolNext = arena + CODE_POOL_BASE;
  previous = 0;
  epoch++; // links between the old blocks die with them
  const hot = arena + CODE_HOT_BASE;
  store<u32>(hot + CODE_HOT_FLUSHES_U32, load<u32>(hot + CODE_HOT_FLUSHES_U32) + 1);
  store<u32>(hot + CODE_HOT_COUNT_U32, 0);
}

/**
 * Counts a run of a 32-bit code `block`; at the JIT threshold it joins the hot queue for the host
 * to compile (a full queue leaves it to a later run).
 */
export function countRun(block: usize): void {
  const hits = <u32>load<u16>(block + B_HITS) + 1;
  if (hits > jitThreshold) return;
  if (hits == jitThreshold) {
    const hot = arena + CODE_HOT_BASE;
    const queued = load<u32>(hot + CODE_HOT_COUNT_U32);
    if (queued >= <u32>CODE_HOT_ENTRIES) return;
    store<u32>(hot + CODE_HOT_ENTRIES_BASE + queued * 4, <u32>block);
    store<u32>(hot + CODE_HOT_COUNT_U32, queued + 1);
  }
  store<u16>(block + B_HITS, <u16>hits);
}

/** Bytes of the code-page bitmap: a bit per RAM page, in whole words. */
function pageBitmapBytes(): usize {
  return (((<usize>load<u32>(VMH_BASE + VMH_RAM_SIZE_U32) >> 12) + 31) >> 5) << 2;
}

// @ts-ignore: decorator
@inline function entryFor(host: usize): usize {
  const slot = (<u32>host * 0x9e3779b1) >> 16; // 16 bits: CODE_TABLE_ENTRIES
  return arena + <usize>slot * CODE_ENTRY_SIZE;
}

/**
 * The block starting at CS:EIP, decoded now if needed, or 0 when the interpreter is to run the
 * next instruction: no block may run (a test asked), the code page is not in the TLB, the block
 * would pass the CS limit (or wrap IP in 16-bit code), or it has more than `most` instructions.
 */
export function findBlock(most: i32): usize {
  if (!enabled) return 0;
  const host = codeAddress(csBase + eip);
  if (host == 0) return 0;
  const mode: u32 = csBig ? 1 : 0;
  const prev = previous;
  let block: usize;
  if (prev != 0 && load<u32>(prev + B_NEXT_HOST) == <u32>host && load<u32>(prev + B_NEXT_EPOCH) == epoch &&
    load<u32>(prev + B_NEXT_MODE) == mode) {
    block = <usize>load<u32>(prev + B_NEXT_BLOCK);
  } else {
    block = lookUp(host, mode);
    // Unless decoding it flushed the pool, which resets `previous`: `prev` is then free memory.
    if (prev != 0 && block != 0 && previous == prev) {
      store<u32>(prev + B_NEXT_HOST, <u32>host);
      store<u32>(prev + B_NEXT_BLOCK, <u32>block);
      store<u32>(prev + B_NEXT_EPOCH, epoch);
      store<u32>(prev + B_NEXT_MODE, mode);
    }
  }
  previous = block;
  if (block == 0 || <i32>load<u16>(block + B_COUNT) > most) return 0;
  const bytes = <u32>load<u16>(block + B_BYTES);
  if (bytes != 0) {
    const last = eip + bytes - 1;
    if (last < eip || last > csLimit || (mode == 0 && last > 0xffff)) return 0;
  }
  return block;
}

/** The block for the code at `host` in `mode` from the table (checked against memory once an epoch), decoded if need be. */
function lookUp(host: usize, mode: u32): usize {
  const e = entryFor(host);
  if (load<u32>(e + CODE_ENTRY_HOST_U32) != <u32>host || load<u32>(e + CODE_ENTRY_MODE_U32) != mode) return build(e, host, mode);
  const block = <usize>load<u32>(e + CODE_ENTRY_BLOCK_U32);
  if (load<u32>(e + CODE_ENTRY_EPOCH_U32) == epoch) return block;
  if (!sameBytes(block, host)) return build(e, host, mode);
  store<u32>(e + CODE_ENTRY_EPOCH_U32, epoch);
  return block;
}

/** Whether the bytes `block` was decoded from still hold at `host`. */
function sameBytes(block: usize, host: usize): bool {
  const bytes = <usize>load<u16>(block + B_BYTES);
  const copy = block + B_RECORDS + <usize>load<u16>(block + B_COUNT) * RECORD_SIZE;
  return memory.compare(copy, host, bytes) == 0;
}

/**
 * Decodes the block at `host` into the pool and names it in table entry `e`; returns 0 for a
 * page left to the interpreter.
 */
function build(e: usize, host: usize, mode: u32): usize {
  if (restless(host)) return 0;
  if (poolNext + MAX_BLOCK > arena + CODE_DROPS_BASE) flushBlocks();
  const block = poolNext;
  const pageEnd = (host & ~<usize>0xfff) + 0x1000;
  let p = host;
  let count = 0;
  let rec = block + B_RECORDS;
  while (count < MAX_RECORDS) {
    const length = decodeRecord(p, pageEnd, mode != 0, rec);
    count++;
    if (length == 0) {
      store<u8>(rec, K_STEP, R_KIND);
      store<u8>(rec, 0, R_LEN);
      break;
    }
    p += <usize>length;
    const kind = <i32>load<u8>(rec, R_KIND);
    rec += RECORD_SIZE;
    if (endsBlock(kind) || p == pageEnd) break;
  }
  const bytes = p - host;
  store<u16>(block + B_COUNT, <u16>count);
  store<u16>(block + B_BYTES, <u16>bytes);
  store<u16>(block + B_HITS, 0);
  store<u16>(block + B_COMPILED, 0);
  store<u32>(block + B_NEXT_HOST, 0);
  const copy = block + B_RECORDS + <usize>count * RECORD_SIZE;
  memory.copy(copy, host, bytes);
  poolNext = (copy + bytes + 7) & ~<usize>7;
  store<u32>(e + CODE_ENTRY_HOST_U32, <u32>host);
  store<u32>(e + CODE_ENTRY_MODE_U32, mode);
  store<u32>(e + CODE_ENTRY_EPOCH_U32, epoch);
  store<u32>(e + CODE_ENTRY_BLOCK_U32, <u32>block);
  holdsCode(host);
  return block;
}

/** Index of the RAM page at shared-memory address `host` in the code-page bitmap, or -1 outside RAM. */
function pageIndex(host: usize): i32 {
  const ramBase = <usize>load<u32>(VMH_BASE + VMH_RAM_BASE_U32);
  if (host < ramBase || host - ramBase >= <usize>load<u32>(VMH_BASE + VMH_RAM_SIZE_U32)) return -1;
  return <i32>((host - ramBase) >> 12);
}

// @ts-ignore: decorator
@inline function bitmapWord(page: i32): usize {
  return arena + CODE_PAGES_BASE + ((<usize>page >> 5) << 2);
}

// @ts-ignore: decorator
@inline function dropsEntry(page: i32): usize {
  return arena + CODE_DROPS_BASE + <usize>(page & (CODE_DROPS_ENTRIES - 1)) * CODE_DROPS_SIZE;
}

/** Whether writes dropped the blocks of the page of `host` so often that it is left to the interpreter. */
function restless(host: usize): bool {
  const page = pageIndex(host);
  if (page < 0) return false;
  const d = dropsEntry(page);
  return load<u32>(d + CODE_DROPS_PAGE_U32) == <u32>page + 1 && load<u32>(d + CODE_DROPS_COUNT_U32) >= MAX_DROPS;
}

/** Marks the page of `host` as holding code, taking it out of the write TLB the first time. */
function holdsCode(host: usize): void {
  const page = pageIndex(host);
  if (page < 0) return;
  const word = bitmapWord(page);
  const bit: u32 = 1 << (page & 31);
  const bits = load<u32>(word);
  if ((bits & bit) != 0) return;
  store<u32>(word, bits | bit);
  dropWritable(host & ~<usize>0xfff);
}

/** Whether the RAM page at shared-memory address `page` holds blocks (its writes must call codeWritten). */
export function hasCode(page: usize): bool {
  const index = pageIndex(page);
  return index >= 0 && (load<u32>(bitmapWord(index)) & (1 << (index & 31))) != 0;
}

/** A write reached the RAM page at `page`, which holds blocks: drops them. */
export function codeWritten(page: usize): void {
  page &= ~<usize>0xfff;
  const index = pageIndex(page);
  if (index < 0) return;
  const word = bitmapWord(index);
  store<u32>(word, load<u32>(word) & ~(1 << (index & 31)));
  const d = dropsEntry(index);
  const drops = load<u32>(d + CODE_DROPS_PAGE_U32) == <u32>index + 1 ? load<u32>(d + CODE_DROPS_COUNT_U32) : 0;
  store<u32>(d + CODE_DROPS_PAGE_U32, <u32>index + 1);
  store<u32>(d + CODE_DROPS_COUNT_U32, drops + 1);
  for (let i = 0; i < CODE_TABLE_ENTRIES; i++) {
    const e = arena + <usize>i * CODE_ENTRY_SIZE;
    if ((<usize>load<u32>(e + CODE_ENTRY_HOST_U32) & ~<usize>0xfff) == page) store<u32>(e + CODE_ENTRY_HOST_U32, 0);
  }
  epoch++; // and every link between blocks, some of which may lead to the dropped ones
  codeChanged = true;
}

/**
 * A device access returned: what devices wrote meanwhile may include code, so blocks are
 * compared with memory again before they run, and the running one stops after this instruction.
 */
export function afterDeviceIo(): void {
  epoch++;
  codeChanged = true;
}

/** Before a block runs. */
export function clearCodeChanged(): void {
  codeChanged = false;
}
