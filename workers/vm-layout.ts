/**
 * Where everything lives in a VM's shared memory. The fixed part (VM header, vCPU blocks, memory
 * map tables) comes from assembly/abi/layout.ts; this module adds the parts whose size depends on
 * the VM's configuration (socket arena, dirty bitmap, the vCPUs' code caches, guest RAM) and
 * writes the result into the VM header, where the core reads it.
 */
import {
  ABI_VERSION, CACHE_LINE, CODE_PAGES_BASE, MAP_END, MAX_VCPUS, PAGE_SIZE, PAIR_SIZE, SOCKET_HEADER_SIZE,
  VCPU_BLOCK_BASE, VCPU_BLOCK_SIZE, VMH_BASE, VMH_DIRTY_BASE_U32, VMH_MAGIC, VMH_MAGIC_U32,
  VMH_CODE_BASE_U32, VMH_CODE_STRIDE_U32, VMH_MAX_SOCKETS_U32, VMH_MAX_VCPUS_U32, VMH_RAM_BASE_U32, VMH_RAM_SIZE_U32, VMH_SOCKET_BASE_U32,
  VMH_VERSION_U32, WASM_PAGE_SIZE,
} from "../assembly/abi/layout";

/** Addresses in a 32-bit WebAssembly memory stop at 4 GiB. */
const MEMORY_LIMIT = 2 ** 32;

/** The sizes a VM is created with. */
export interface LayoutConfig {
  /** Bytes of guest RAM, a multiple of 4 KiB. */
  ramBytes: number;
  /** Most vCPUs the VM will have (1..32); each socket reserves one ring pair per vCPU. */
  maxVcpus: number;
  /** Most sockets the VM will have. */
  maxSockets: number;
}

/** The resolved layout of one VM's shared memory (byte addresses). */
export interface VmLayout extends LayoutConfig {
  socketBase: number;
  socketBlockSize: number;
  dirtyBase: number;
  dirtyBytes: number;
  /** vCPU 0's code cache (the core's decoded blocks); vCPU i's is codeStride * i bytes further. */
  codeBase: number;
  codeStride: number;
  ramBase: number;
  /** Total bytes of shared memory, a multiple of the WebAssembly page size. */
  totalBytes: number;
}

const alignUp = (value: number, align: number): number => Math.ceil(value / align) * align;

/** Computes the layout for a configuration; throws a RangeError naming the bad setting. */
export function computeLayout(config: LayoutConfig): VmLayout {
  const { ramBytes, maxVcpus, maxSockets } = config;
  if (!Number.isSafeInteger(ramBytes) || ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) {
    throw new RangeError(`ramBytes must be a positive multiple of ${PAGE_SIZE}, got ${ramBytes}`);
  }
  if (!Number.isInteger(maxVcpus) || maxVcpus < 1 || maxVcpus > MAX_VCPUS) {
    throw new RangeError(`maxVcpus must be 1..${MAX_VCPUS}, got ${maxVcpus}`);
  }
  if (!Number.isInteger(maxSockets) || maxSockets < 0 || maxSockets > 1024) {
    throw new RangeError(`maxSockets must be 0..1024, got ${maxSockets}`);
  }
  const socketBase = alignUp(MAP_END, CACHE_LINE);
  const socketBlockSize = SOCKET_HEADER_SIZE + maxVcpus * PAIR_SIZE;
  const dirtyBase = alignUp(socketBase + maxSockets * socketBlockSize, CACHE_LINE);
  const dirtyBytes = alignUp(Math.ceil(ramBytes / PAGE_SIZE / 8), 4);
  const codeBase = alignUp(dirtyBase + dirtyBytes, CACHE_LINE);
  const codeStride = alignUp(CODE_PAGES_BASE + dirtyBytes, CACHE_LINE);
  const ramBase = alignUp(codeBase + maxVcpus * codeStride, WASM_PAGE_SIZE);
  const totalBytes = alignUp(ramBase + ramBytes, WASM_PAGE_SIZE);
  if (totalBytes > MEMORY_LIMIT) {
    throw new RangeError(`ramBytes ${ramBytes} does not fit a 4 GiB WebAssembly memory beside the VM's own regions`);
  }
  return { ramBytes, maxVcpus, maxSockets, socketBase, socketBlockSize, dirtyBase, dirtyBytes, codeBase, codeStride, ramBase, totalBytes };
}

/** Byte address of vCPU `index`'s state block. */
export const vcpuBlockBase = (index: number): number => VCPU_BLOCK_BASE + index * VCPU_BLOCK_SIZE;

/** Byte address of socket `id`'s block. */
export const socketBlockBase = (layout: VmLayout, id: number): number => layout.socketBase + id * layout.socketBlockSize;

/** Byte address of the ring pair that links vCPU `vcpu` with socket `id`. */
export const socketPairBase = (layout: VmLayout, id: number, vcpu: number): number =>
  socketBlockBase(layout, id) + SOCKET_HEADER_SIZE + vcpu * PAIR_SIZE;

/** Writes the VM header so the core (and workers handed only the memory) can find everything. */
export function writeHeader(memory: WebAssembly.Memory, layout: VmLayout): void {
  const words = new Uint32Array(memory.buffer, VMH_BASE, 16);
  words[VMH_VERSION_U32 / 4] = ABI_VERSION;
  words[VMH_RAM_BASE_U32 / 4] = layout.ramBase;
  words[VMH_RAM_SIZE_U32 / 4] = layout.ramBytes;
  words[VMH_DIRTY_BASE_U32 / 4] = layout.dirtyBase;
  words[VMH_MAX_VCPUS_U32 / 4] = layout.maxVcpus;
  words[VMH_SOCKET_BASE_U32 / 4] = layout.socketBase;
  words[VMH_MAX_SOCKETS_U32 / 4] = layout.maxSockets;
  words[VMH_CODE_BASE_U32 / 4] = layout.codeBase;
  words[VMH_CODE_STRIDE_U32 / 4] = layout.codeStride;
  Atomics.store(words, VMH_MAGIC_U32 / 4, VMH_MAGIC);
}

/** Reads a layout back from a VM header (what a worker does when handed only the memory). */
export function readHeader(memory: WebAssembly.Memory): VmLayout {
  const words = new Uint32Array(memory.buffer, VMH_BASE, 16);
  if (Atomics.load(words, VMH_MAGIC_U32 / 4) !== VMH_MAGIC || words[VMH_VERSION_U32 / 4] !== ABI_VERSION) {
    throw new Error("shared memory holds no VM header of this ABI version");
  }
  const layout = computeLayout({
    ramBytes: words[VMH_RAM_SIZE_U32 / 4],
    maxVcpus: words[VMH_MAX_VCPUS_U32 / 4],
    maxSockets: words[VMH_MAX_SOCKETS_U32 / 4],
  });
  if (layout.ramBase !== words[VMH_RAM_BASE_U32 / 4] || layout.socketBase !== words[VMH_SOCKET_BASE_U32 / 4]) {
    throw new Error("VM header does not match this build's layout");
  }
  return layout;
}
