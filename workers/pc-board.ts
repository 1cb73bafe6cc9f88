/**
 * The PC board table: where devices and guest code sit in the address and port spaces, each
 * number with its source. Device models see offsets within their range; only this file knows
 * addresses.
 */
import { gpa, port, type Gpa, type Port } from "./addresses";
import { UART_REGISTER_COUNT } from "./devices/uart-16550";

/**
 * COM1's first port: the PC/AT primary serial adapter at 3F8-3FF (IBM PC AT Technical Reference,
 * "System I/O Address Map"; Linux arch/x86/include/asm/serial.h SERIAL_PORT_DFNS).
 */
export const COM1_PORT: Port = port(0x3f8);

/** COM1's port count: one port per 16550 register (PC16550D datasheet, A0-A2 select 8 registers). */
export const COM1_PORT_COUNT = UART_REGISTER_COUNT;

/**
 * Guest RAM of the first machine: 1 MiB, the 8086 real-mode address space every PC memory map
 * starts from. Mapped whole at guest physical 0 (the legacy video and BIOS holes come later).
 */
export const HELLO_RAM_BYTES = 1 << 20;

/**
 * Where a flat guest program is loaded and entered: 0x10000, kvmtool's address for flat
 * binaries (x86/include/kvm/kvm-arch.h: BOOT_LOADER_SELECTOR 0x1000, BOOT_LOADER_IP 0), clear of
 * the real-mode interrupt table and BIOS data area below 0x500.
 */
export const HELLO_LOAD_GPA: Gpa = gpa(0x10000);
