/**
 * The PC board table: where devices and guest code sit in the address and port spaces, each
 * number with its source. Device models see offsets within their range; only this file knows
 * addresses.
 */
import { gpa, port, type Gpa, type Port } from "./addresses";
import { E820, type E820Entry } from "./boot/linux-loader";
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

/**
 * The PC's physical memory map as e820 reports it (the layout of every PC BIOS, and of QEMU's
 * and Firecracker's): conventional memory up to the EBDA at 0x9FC00, the EBDA, the BIOS area at
 * 0xF0000 (where the firmware tables sit), then RAM from 1 MiB. The legacy video hole
 * (0xA0000-0xEFFFF) is left out, so the kernel never uses it. RAM stays below the I/O APIC.
 */
export function pcE820(ramBytes: number): E820Entry[] {
  return [
    { address: 0, size: EBDA_GPA, type: E820.ram },
    { address: EBDA_GPA, size: 0xa0000 - EBDA_GPA, type: E820.reserved },
    { address: 0xf0000, size: 0x10000, type: E820.reserved },
    { address: 0x100000, size: ramBytes - 0x100000, type: E820.ram },
  ];
}

/** The extended BIOS data area's start: the top 1 KiB of the 640 KiB of conventional memory. */
const EBDA_GPA = 0x9fc00;

/** The local APICs' page: the architectural default of IA32_APIC_BASE (SDM vol. 3, 11.4.4). */
export const LAPIC_GPA: Gpa = gpa(0xfee00000);

/** COM1's interrupt: ISA IRQ 4 (PC AT serial adapter; Linux's SERIAL_PORT_DFNS). */
export const COM1_IRQ = 4;

/** Smallest and largest guest RAM of the PC: room for a kernel to unpack, and RAM below the I/O APIC page. */
export const PC_MIN_RAM_BYTES = 32 << 20;
export const PC_MAX_RAM_BYTES = 2048 * 1024 * 1024;

/**
 * Where PCI memory BARs may go, as the DSDT's host bridge _CRS offers it: from 3 GiB up to the
 * I/O APIC's page, above any RAM this PC has (PC_MAX_RAM_BYTES), as on 440FX boards.
 */
export const PCI_MEMORY_WINDOW = { base: gpa(0xc0000000), size: 0xfec00000 - 0xc0000000 };
