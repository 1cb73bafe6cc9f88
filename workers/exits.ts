/**
 * The exits a vCPU hands to its owner: one closed union, decoded from the run block in one place.
 * Exits that a socket or the core handles itself (device accesses, slice ends, kicks) never
 * appear here.
 */
import {
  EXIT_EXCEPTION, EXIT_FETCH, EXIT_HLT, EXIT_INTA, EXIT_IO, EXIT_SHUTDOWN, EXIT_UNSUPPORTED, REG_RIP_U64, RUN_EXIT_DETAIL_U32,
  RUN_EXIT_ERROR_CODE_U32, RUN_EXIT_HAS_ERROR_CODE_U32, RUN_EXIT_REASON_U32, RUN_IO_ADDR_U64, RUN_IO_DATA_U64,
  RUN_IO_SIZE_U32, RUN_IO_SPACE_U32, RUN_IO_WRITE_U32, SPACE_PIO,
} from "../assembly/abi/layout";

/** The guest executed HLT with its local APIC hidden or disabled (else the vCPU sleeps in the worker). RIP is past it. */
export interface HltExit { reason: "hlt" }
/**
 * An MMIO or port access no socket claims. For a read, answer with `vcpu.completeIo(value)`
 * before the next `run()`; it reads as zero otherwise. RIP still points at the instruction.
 */
export interface IoExit {
  reason: "io";
  space: "mmio" | "pio";
  /** Guest physical address or port number. */
  address: number;
  size: 1 | 2 | 4 | 8;
  write: boolean;
  /** The data written (zero for a read). */
  data: bigint;
}
/**
 * The core met an instruction it does not implement; RIP points at it. `opcode` is the opcode
 * byte, 0x0F00 | byte for the two-byte map, or 0x10000 | detail for a protected-mode control
 * transfer (gate, task switch, privilege change) not modelled yet.
 */
export interface UnsupportedInstructionExit { reason: "unsupported-instruction"; opcode: number; rip: number }
/**
 * An exception the owner asked to see instead of the guest (the `exception_exits` register, a
 * bitmap of vectors). RIP points at the faulting instruction, which has not changed anything.
 */
export interface ExceptionExit { reason: "exception"; vector: number; errorCode?: number; rip: number }
/** A triple fault: the processor shut down (a PC resets; the owner decides). */
export interface ShutdownExit { reason: "shutdown" }
/** Code was fetched from a linear address with no RAM or ROM behind it. */
export interface FetchFaultExit { reason: "fetch-fault"; address: number }
/**
 * The vCPU takes an ExtINT (the 8259's INT through LINT0) and runs the INTA cycle: answer with
 * `vcpu.completeIo(vector)` before the next `run()`; no answer (or a value above 0xff) means the
 * 8259 supplied none.
 */
export interface InterruptAcknowledgeExit { reason: "interrupt-acknowledge" }

/** Why `vcpu.run()` returned. */
export type VcpuExit = HltExit | IoExit | UnsupportedInstructionExit | FetchFaultExit | ExceptionExit | ShutdownExit | InterruptAcknowledgeExit;

/** Decodes the exit stored in the run block of the vCPU block at `block`. */
export function decodeExit(buffer: ArrayBufferLike, block: number): VcpuExit {
  const view = new DataView(buffer, block);
  const reason = view.getUint32(RUN_EXIT_REASON_U32, true);
  switch (reason) {
    case EXIT_HLT:
      return { reason: "hlt" };
    case EXIT_IO:
      return {
        reason: "io",
        space: view.getUint32(RUN_IO_SPACE_U32, true) === SPACE_PIO ? "pio" : "mmio",
        address: Number(view.getBigUint64(RUN_IO_ADDR_U64, true)),
        size: view.getUint32(RUN_IO_SIZE_U32, true) as IoExit["size"],
        write: view.getUint32(RUN_IO_WRITE_U32, true) !== 0,
        data: view.getBigUint64(RUN_IO_DATA_U64, true),
      };
    case EXIT_UNSUPPORTED:
      return { reason: "unsupported-instruction", opcode: view.getUint32(RUN_EXIT_DETAIL_U32, true), rip: Number(view.getBigUint64(REG_RIP_U64, true)) };
    case EXIT_FETCH:
      return { reason: "fetch-fault", address: view.getUint32(RUN_EXIT_DETAIL_U32, true) };
    case EXIT_SHUTDOWN:
      return { reason: "shutdown" };
    case EXIT_INTA:
      return { reason: "interrupt-acknowledge" };
    case EXIT_EXCEPTION: {
      const exit: ExceptionExit = { reason: "exception", vector: view.getUint32(RUN_EXIT_DETAIL_U32, true), rip: Number(view.getBigUint64(REG_RIP_U64, true)) };
      if (view.getUint32(RUN_EXIT_HAS_ERROR_CODE_U32, true) !== 0) exit.errorCode = view.getUint32(RUN_EXIT_ERROR_CODE_U32, true);
      return exit;
    }
    default:
      throw new Error(`run block holds unknown exit reason ${reason}`);
  }
}
