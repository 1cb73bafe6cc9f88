// The shared-memory ABI between the host (TypeScript workers) and the core (AssemblyScript).
// Both compilers import this file by an extension-less relative path, so it holds only
// `export const NAME = <integer expression>`. Offsets carry their width in their name; each is
// derived from the one before it. Blocks start with a magic word. test/layout.test.ts checks
// alignment, overlap and sizes. Dynamic addresses (guest RAM, dirty bitmap, which depend on the
// RAM size) are computed by workers/vm-layout.ts and published in the VM header.

export const ABI_VERSION = 1;
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;
export const WASM_PAGE_SIZE = 65536;
export const CACHE_LINE = 64;

// ---- Fixed regions of the shared memory (byte addresses) ----
// The core's read-only static data is placed at CORE_STATIC_BASE by `asc --memoryBase` and must
// end (its __heap_base) below CORE_STATIC_END; the host checks that at instantiation.
export const CORE_STATIC_BASE = 1024;
export const CORE_STATIC_END = 65536;

// VM header: one per VM, written by the host, read by vCPUs.
export const VMH_BASE = CORE_STATIC_END;
export const VMH_MAGIC = 0x564d4831; // "VMH1"
export const VMH_MAGIC_U32 = 0;
export const VMH_VERSION_U32 = VMH_MAGIC_U32 + 4;
export const VMH_RAM_BASE_U32 = VMH_VERSION_U32 + 4; // byte address of guest RAM in shared memory
export const VMH_RAM_SIZE_U32 = VMH_RAM_BASE_U32 + 4; // bytes of guest RAM, page-aligned
export const VMH_DIRTY_BASE_U32 = VMH_RAM_SIZE_U32 + 4; // byte address of the dirty bitmap
export const VMH_MAX_VCPUS_U32 = VMH_DIRTY_BASE_U32 + 4;
export const VMH_SOCKET_BASE_U32 = VMH_MAX_VCPUS_U32 + 4; // byte address of the socket arena
export const VMH_MAX_SOCKETS_U32 = VMH_SOCKET_BASE_U32 + 4;
export const VMH_CODE_BASE_U32 = VMH_MAX_SOCKETS_U32 + 4; // byte address of vCPU 0's code cache
export const VMH_CODE_STRIDE_U32 = VMH_CODE_BASE_U32 + 4; // bytes from one vCPU's code cache to the next
// Memory-map publication (RCU): the generation of the current table; the table in use is slot
// (generation & 1). Written by the publisher with one atomic store, read by vCPU workers at their
// quiescent points. Generation 0 is never published (it means "idle" in VCPU_MAP_GEN_U32).
export const VMH_MAP_GEN_U32 = 64;
// Number of publishers waiting for a grace period; a vCPU notifies its VCPU_MAP_GEN_U32 word
// only when this is non-zero, keeping the hot path free of notify calls.
export const VMH_GP_WAITERS_U32 = VMH_MAP_GEN_U32 + CACHE_LINE;
// Dirty logging switch: non-zero while logging is on; the core tests it on RAM writes.
export const VMH_DIRTY_LOG_U32 = VMH_GP_WAITERS_U32 + CACHE_LINE;
export const VMH_SIZE = 4096;

// ---- vCPU state blocks: MAX_VCPUS blocks of VCPU_BLOCK_SIZE after the header ----
export const MAX_VCPUS = 32;
export const VCPU_BLOCK_BASE = VMH_BASE + VMH_SIZE;
export const VCPU_BLOCK_SIZE = 16384;
export const VCPU_MAGIC = 0x56435055; // "VCPU"
export const VCPU_MAGIC_U32 = 0;
export const VCPU_INDEX_U32 = VCPU_MAGIC_U32 + 4;
// Exceptions (bit n for vector n) that stop the vCPU with EXIT_EXCEPTION instead of being
// delivered to the guest, for debuggers and tests (like a VMX exception bitmap). Host-written.
export const VCPU_EXCEPTION_EXITS_U32 = VCPU_INDEX_U32 + 4;
// Non-zero: the core interprets every instruction, never running decoded blocks (tests compare
// both paths). Host-written.
export const VCPU_INTERPRET_ONLY_U32 = VCPU_EXCEPTION_EXITS_U32 + 4;
// Runs of a decoded block after which the core asks for it to be compiled to a WASM function (its
// address goes to the code cache's hot queue); 0: never. Host-written, by whoever compiles.
export const VCPU_JIT_THRESHOLD_U32 = VCPU_INTERPRET_ONLY_U32 + 4;
// Owner -> worker request bits (REQ_*), set with Atomics.or and notified; the guest loop leaves
// at the next instruction boundary when any bit is set.
export const VCPU_REQUEST_U32 = 64;
// Worker -> owner lifecycle state (VCPU_STATE_*), written by the worker, notified on change.
export const VCPU_STATE_U32 = VCPU_REQUEST_U32 + CACHE_LINE;
// Incremented by the worker each time it hands an exit to the owner (notified).
export const VCPU_EXIT_SEQ_U32 = VCPU_STATE_U32 + 4;
// Memory-map generation this vCPU uses since its last quiescent point, or 0 while it runs no
// guest code (an extended quiescent state). Written by the vCPU worker only.
export const VCPU_MAP_GEN_U32 = VCPU_STATE_U32 + CACHE_LINE;

// Run block: what run() works on. The core fills the exit fields; the owner or a socket writes
// the reply data of a read in place before the guest continues.
export const RUN_BASE = 256;
export const RUN_EXIT_REASON_U32 = RUN_BASE; // EXIT_*
export const RUN_IO_SPACE_U32 = RUN_EXIT_REASON_U32 + 4; // SPACE_MMIO or SPACE_PIO
export const RUN_IO_ADDR_U64 = RUN_IO_SPACE_U32 + 4; // guest physical address or port
export const RUN_IO_OFFSET_U64 = RUN_IO_ADDR_U64 + 8; // offset inside the region
export const RUN_IO_DATA_U64 = RUN_IO_OFFSET_U64 + 8; // write data, or read reply
export const RUN_IO_SIZE_U32 = RUN_IO_DATA_U64 + 8; // 1, 2, 4 or 8
export const RUN_IO_WRITE_U32 = RUN_IO_SIZE_U32 + 4; // 1 for a write
export const RUN_IO_SOCKET_U32 = RUN_IO_WRITE_U32 + 4; // socket id, or NO_SOCKET
export const RUN_IO_TAG_U32 = RUN_IO_SOCKET_U32 + 4; // region tag from the memory map
export const RUN_IO_POSTED_U32 = RUN_IO_TAG_U32 + 4; // 1 when the region takes posted writes
export const RUN_EXIT_DETAIL_U32 = RUN_IO_POSTED_U32 + 4; // e.g. the unsupported opcode
export const RUN_INSN_COUNT_U64 = RUN_EXIT_DETAIL_U32 + 4; // instructions retired, total
export const RUN_EXIT_ERROR_CODE_U32 = RUN_INSN_COUNT_U64 + 8; // EXIT_EXCEPTION: the error code
export const RUN_EXIT_HAS_ERROR_CODE_U32 = RUN_EXIT_ERROR_CODE_U32 + 4;
export const RUN_END = RUN_EXIT_HAS_ERROR_CODE_U32 + 4;

// Architectural registers. GPRs are 64 bits wide so long mode can grow into them.
export const REGS_BASE = 512;
export const REG_GPR_U64 = REGS_BASE; // 16 x u64: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15
export const REG_GPR_COUNT = 16;
export const REG_RIP_U64 = REG_GPR_U64 + REG_GPR_COUNT * 8;
export const REG_RFLAGS_U64 = REG_RIP_U64 + 8;
// Segment registers ES CS SS DS FS GS, then LDTR and TR, each {base u64, limit u32 (the byte
// limit, granularity applied), selector u16, attrs u16}; attrs hold descriptor bits 40-47 in 0-7
// and 52-55 in 12-15 (so D/B is bit 14), as in a descriptor.
export const REG_SEG_BASE = REG_RFLAGS_U64 + 8;
export const SEG_BASE_U64 = 0;
export const SEG_LIMIT_U32 = SEG_BASE_U64 + 8;
export const SEG_SELECTOR_U16 = SEG_LIMIT_U32 + 4;
export const SEG_ATTRS_U16 = SEG_SELECTOR_U16 + 2;
export const SEG_SIZE = SEG_ATTRS_U16 + 2;
export const SEG_COUNT = 8;
export const SEG_ES = 0;
export const SEG_CS = 1;
export const SEG_SS = 2;
export const SEG_DS = 3;
export const SEG_FS = 4;
export const SEG_GS = 5;
export const SEG_LDTR = 6;
export const SEG_TR = 7;
export const SEG_ATTR_DB = 0x4000;
export const REG_CR_U64 = REG_SEG_BASE + SEG_COUNT * SEG_SIZE; // CR0..CR4, 5 x u64
export const REG_CR_COUNT = 5;
export const REG_DR_U64 = REG_CR_U64 + REG_CR_COUNT * 8; // DR0..DR7, 8 x u64
export const REG_DR_COUNT = 8;
export const REG_GDTR_BASE_U64 = REG_DR_U64 + REG_DR_COUNT * 8;
export const REG_GDTR_LIMIT_U32 = REG_GDTR_BASE_U64 + 8;
export const REG_IDTR_BASE_U64 = REG_GDTR_LIMIT_U32 + 8; // (4 bytes of padding before it)
export const REG_IDTR_LIMIT_U32 = REG_IDTR_BASE_U64 + 8;
// Model-specific registers the core implements (SDM vol. 4): IA32_SYSENTER_CS/ESP/EIP.
export const REG_SYSENTER_CS_U32 = REG_IDTR_LIMIT_U32 + 4;
export const REG_SYSENTER_ESP_U32 = REG_SYSENTER_CS_U32 + 4;
export const REG_SYSENTER_EIP_U32 = REG_SYSENTER_ESP_U32 + 4;
// Non-zero while the instruction after STI, MOV SS or POP SS runs: no interrupt is accepted
// before it completes (SDM vol. 3, 6.8.3).
export const REG_INTERRUPT_SHADOW_U32 = REG_SYSENTER_EIP_U32 + 4;
// An external interrupt the owner injects: vector | INJECT_PENDING, taken (and cleared) by the
// vCPU at the first instruction boundary with IF set and no interrupt shadow.
export const REG_INJECT_U32 = REG_INTERRUPT_SHADOW_U32 + 4;
export const INJECT_PENDING = 0x100;
// The TSC is the host clock at TSC_HZ plus this offset (IA32_TSC writes move the offset).
export const REG_TSC_OFFSET_U64 = REG_INJECT_U32 + 4;
export const TSC_HZ = 1000000000;
// IA32_EFER (MSR C0000080h): only NXE (bit 11) is implemented.
export const REG_EFER_U32 = REG_TSC_OFFSET_U64 + 8;
// An exception the owner has the vCPU raise at the start of its next run() (vector |
// EXCEPTION_PENDING, | EXCEPTION_HAS_CODE with REG_PENDING_ERROR_CODE_U32), e.g. to pass on one
// taken by an exception exit. Delivered as the guest would take it, never as another exit.
export const REG_PENDING_EXCEPTION_U32 = REG_EFER_U32 + 4;
export const REG_PENDING_ERROR_CODE_U32 = REG_PENDING_EXCEPTION_U32 + 4;
export const EXCEPTION_PENDING = 0x100;
export const EXCEPTION_HAS_CODE = 0x200;
// The kvmclock MSRs as the guest last wrote them (MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW):
// guest physical addresses of the wall-clock and per-vCPU time structures (bit 0: enabled).
export const REG_KVM_WALL_CLOCK_U64 = REG_PENDING_ERROR_CODE_U32 + 8; // (4 bytes of padding before it)
export const REG_KVM_SYSTEM_TIME_U64 = REG_KVM_WALL_CLOCK_U64 + 8;
export const REGS_END = REG_KVM_SYSTEM_TIME_U64 + 8;

// x87 FPU state (SDM vol. 1, chapter 8). The eight data registers are stored by physical number
// (R0-R7, not ST(i)), each as a 64-bit significand with explicit integer bit and a 16-bit
// sign+exponent word, as in memory's 80-bit format, padded to 16 bytes.
export const FPU_BASE = 1024;
export const FPU_REG_BASE = FPU_BASE; // R0..R7
export const FPU_REG_SIGNIFICAND_U64 = 0;
export const FPU_REG_SIGN_EXP_U16 = 8;
export const FPU_REG_SIZE = 16;
export const FPU_REG_COUNT = 8;
export const FPU_CW_U16 = FPU_REG_BASE + FPU_REG_COUNT * FPU_REG_SIZE; // control word
export const FPU_SW_U16 = FPU_CW_U16 + 2; // status word, TOP in bits 11-13
export const FPU_TW_U16 = FPU_SW_U16 + 2; // full tag word, two bits per physical register
export const FPU_FOP_U16 = FPU_TW_U16 + 2; // last opcode (11 bits)
export const FPU_FIP_U32 = FPU_FOP_U16 + 2; // last instruction offset
export const FPU_FCS_U16 = FPU_FIP_U32 + 4; // last instruction selector
export const FPU_FDS_U16 = FPU_FCS_U16 + 2; // last data selector
export const FPU_FDP_U32 = FPU_FDS_U16 + 2; // last data offset
export const FPU_END = FPU_FDP_U32 + 4;

// Access counters kept by the vCPU worker (and by the core, on its thread, for reads served from a
// register file), for figures (exits per second by kind): f64 counts (exact to 2^53), read by
// anyone at any time.
export const STATS_BASE = 6144;
export const STAT_PIO_SYNC_F64 = STATS_BASE; // port reads and non-posted writes answered by a device worker
export const STAT_PIO_POSTED_F64 = STAT_PIO_SYNC_F64 + 8; // posted port writes
export const STAT_MMIO_SYNC_F64 = STAT_PIO_POSTED_F64 + 8; // MMIO reads and non-posted writes answered by a device worker
export const STAT_MMIO_POSTED_F64 = STAT_MMIO_SYNC_F64 + 8; // posted MMIO writes
export const STAT_OWNER_EXITS_F64 = STAT_MMIO_POSTED_F64 + 8; // exits handed to the owner
export const STAT_HALTS_F64 = STAT_OWNER_EXITS_F64 + 8; // sleeps in HLT
export const STAT_PIO_SHADOW_F64 = STAT_HALTS_F64 + 8; // port reads served from a register file
export const STAT_MMIO_SHADOW_F64 = STAT_PIO_SHADOW_F64 + 8; // MMIO reads served from a register file
export const STAT_COMPILED_BLOCKS_F64 = STAT_MMIO_SHADOW_F64 + 8; // blocks compiled to WASM (workers/jit/)
export const STAT_COMPILE_MS_F64 = STAT_COMPILED_BLOCKS_F64 + 8; // host milliseconds spent compiling them
export const STATS_END = STAT_COMPILE_MS_F64 + 8;

// Software TLB (the core's private cache of linear -> shared-memory translations), direct-mapped
// by linear page number, with separate read and write halves so a load from one page and a store
// to another that share an index do not evict each other. A tag is (linear page | 1) when valid
// for that kind of access. Written and read by the core only (it flushes it when the map changes).
export const TLB_BASE = 8192;
export const TLB_ENTRIES = 256;
export const TLB_READ_SUPER_U32 = 0; // tag valid for supervisor reads
export const TLB_READ_USER_U32 = 4; // tag valid for user reads
export const TLB_READ_HOST_U32 = 8; // shared-memory address of the page the read tags name
export const TLB_READ_GLOBAL_U32 = 12; // TLB_FLAG_*: a global page (kept across CR3 writes), no-execute
export const TLB_FLAG_GLOBAL = 1;
export const TLB_FLAG_NO_EXECUTE = 2;
export const TLB_WRITE_SUPER_U32 = 16;
export const TLB_WRITE_USER_U32 = 20;
export const TLB_WRITE_HOST_U32 = 24;
export const TLB_WRITE_GLOBAL_U32 = 28; // TLB_FLAG_GLOBAL
export const TLB_ENTRY_SIZE = 32;
export const TLB_END = TLB_BASE + TLB_ENTRIES * TLB_ENTRY_SIZE;

// Local APIC (SDM vol. 3, chapter 11), xAPIC mode, in vCPU-block bytes 4096..6143.
// The register image is the first KiB of the APIC page as the guest sees it (each register at
// its xAPIC offset, 16-byte stride, as KVM_GET_LAPIC stores it): APIC_REGS_BASE + APIC_REG_*.
export const APIC_BASE = 4096;
export const APIC_REGS_BASE = APIC_BASE;
export const APIC_REGS_SIZE = 1024;
export const APIC_REG_ID = 0x20;
export const APIC_REG_VERSION = 0x30;
export const APIC_REG_TPR = 0x80;
export const APIC_REG_APR = 0x90;
export const APIC_REG_PPR = 0xa0;
export const APIC_REG_EOI = 0xb0;
export const APIC_REG_LDR = 0xd0;
export const APIC_REG_DFR = 0xe0;
export const APIC_REG_SVR = 0xf0;
export const APIC_REG_ISR = 0x100; // 8 registers of 32 bits, vectors 0-31 first
export const APIC_REG_TMR = 0x180;
export const APIC_REG_IRR = 0x200;
export const APIC_REG_ESR = 0x280;
export const APIC_REG_ICR_LOW = 0x300;
export const APIC_REG_ICR_HIGH = 0x310;
export const APIC_REG_LVT_TIMER = 0x320;
export const APIC_REG_LVT_THERMAL = 0x330;
export const APIC_REG_LVT_PERF = 0x340;
export const APIC_REG_LVT_LINT0 = 0x350;
export const APIC_REG_LVT_LINT1 = 0x360;
export const APIC_REG_LVT_ERROR = 0x370;
export const APIC_REG_TIMER_INITIAL = 0x380;
export const APIC_REG_TIMER_CURRENT = 0x390;
export const APIC_REG_TIMER_DIVIDE = 0x3e0;
// Inbox: what other agents (IOAPIC, other vCPUs' ICRs, the owner) send. Senders set bits with
// an atomic OR, then set REQ_KICK and notify VCPU_REQUEST_U32 when APIC_SLEEPING_U32 is set
// (workers/apic-bus.ts); the core takes the inbox at run() entry, so a kick makes it look.
export const APIC_INBOX_IRR_U32 = APIC_REGS_BASE + APIC_REGS_SIZE; // 8 words: vector bits
export const APIC_INBOX_TMR_U32 = APIC_INBOX_IRR_U32 + 32; // 8 words: set before IRR for level
export const APIC_INBOX_EVENTS_U32 = APIC_INBOX_TMR_U32 + 32; // APIC_EVENT_*
export const APIC_INBOX_SIPI_U32 = APIC_INBOX_EVENTS_U32 + 4; // vector of the last start-up IPI
// Non-zero while the vCPU worker sleeps in HLT on VCPU_REQUEST_U32 (written by the worker only).
export const APIC_SLEEPING_U32 = APIC_INBOX_IRR_U32 + 2 * CACHE_LINE;
// The 8259 PIC's INT output (0 or 1), written by the chipset; LINT0 in ExtINT mode (or the
// processor's INTR pin while the APIC is disabled or hidden) takes it through env.acknowledgeExtInt.
export const APIC_EXTINT_LEVEL_U32 = APIC_SLEEPING_U32 + CACHE_LINE;
// Owner-set: non-zero hides the APIC (CPUID.1:EDX[9] clear, MSR 1Bh #GP, page not claimed, HLT exits).
export const APIC_HIDDEN_U32 = APIC_EXTINT_LEVEL_U32 + CACHE_LINE;
// The core's own state beyond the register image.
export const APIC_BASE_MSR_U64 = APIC_HIDDEN_U32 + 8; // IA32_APIC_BASE (MSR 1Bh), after 4 bytes of padding
export const APIC_PAGE_U64 = APIC_BASE_MSR_U64 + 8; // the claimed page's address | 1, or 0
export const APIC_TSC_DEADLINE_U64 = APIC_PAGE_U64 + 8; // IA32_TSC_DEADLINE (MSR 6E0h)
// When the timer counts: host nanoseconds when the count was loaded, and of the next expiry
// (0: not armed). The worker bounds its slices and HLT sleeps by the deadline.
export const APIC_TIMER_START_U64 = APIC_TSC_DEADLINE_U64 + 8;
export const APIC_TIMER_DEADLINE_U64 = APIC_TIMER_START_U64 + 8;
export const APIC_ESR_PENDING_U32 = APIC_TIMER_DEADLINE_U64 + 8; // errors since the last ESR write
export const APIC_ACTIVITY_U32 = APIC_ESR_PENDING_U32 + 4; // ACTIVITY_*
export const APIC_NMI_U32 = APIC_ACTIVITY_U32 + 4; // NMI_PENDING | NMI_BLOCKED
export const APIC_INIT_U32 = APIC_NMI_U32 + 4; // INIT IPIs received (recorded for SMP start-up)
export const APIC_SIPI_U32 = APIC_INIT_U32 + 4; // last start-up vector | SIPI_RECEIVED
export const APIC_END = APIC_SIPI_U32 + 4;
export const APIC_LIMIT = 6144;
export const APIC_EVENT_NMI = 1;
export const APIC_EVENT_INIT = 2;
export const APIC_EVENT_SIPI = 4;
export const APIC_EVENT_LINT1 = 8; // an edge on the LINT1 pin, delivered as its LVT says
export const ACTIVITY_ACTIVE = 0;
export const ACTIVITY_HLT = 1;
export const NMI_PENDING = 1;
export const NMI_BLOCKED = 2;
export const SIPI_RECEIVED = 0x100;
// The IOAPIC's EOI register (82093AA-compatible IOAPIC version 20h): a level-triggered
// interrupt's EOI is posted there with the vector as data.
export const IOAPIC_EOI_GPA = 0xfec00040;

// Code cache: each vCPU's private arena of decoded blocks (assembly/cpu/blocks.ts), placed by
// workers/vm-layout.ts. A direct-mapped table of entries naming blocks by the shared-memory
// address of their first byte, a pool the blocks are carved from, a direct-mapped count of how
// often writes dropped a page's blocks, and a bitmap of the guest RAM pages that hold cached code
// (one bit per 4 KiB page, as many bytes as the dirty bitmap).
export const CODE_TABLE_ENTRIES = 1 << 16; // a power of two
export const CODE_ENTRY_HOST_U32 = 0; // shared-memory address of the block's first byte; 0: empty
export const CODE_ENTRY_MODE_U32 = 4; // what decoding depended on (CS.D)
export const CODE_ENTRY_EPOCH_U32 = 8; // the run() call in which the block's bytes were last checked
export const CODE_ENTRY_BLOCK_U32 = 12; // byte address of the block in the pool
export const CODE_ENTRY_SIZE = 16;
export const CODE_POOL_BASE = CODE_TABLE_ENTRIES * CODE_ENTRY_SIZE;
export const CODE_POOL_SIZE = 8 << 20;
export const CODE_DROPS_BASE = CODE_POOL_BASE + CODE_POOL_SIZE;
export const CODE_DROPS_ENTRIES = 256; // a power of two
export const CODE_DROPS_PAGE_U32 = 0; // RAM page number + 1; 0: empty
export const CODE_DROPS_COUNT_U32 = 4;
export const CODE_DROPS_SIZE = 8;
// Blocks waiting to be compiled (host-read, core-written; see VCPU_JIT_THRESHOLD_U32).
export const CODE_HOT_BASE = CODE_DROPS_BASE + CODE_DROPS_ENTRIES * CODE_DROPS_SIZE;
export const CODE_HOT_FLUSHES_U32 = 0; // times the pool was flushed: compiled code for older blocks is garbage
export const CODE_HOT_COUNT_U32 = 4; // queued blocks; the host empties the queue by zeroing it
export const CODE_HOT_ENTRIES_BASE = 8; // u32 byte addresses of the queued blocks
export const CODE_HOT_ENTRIES = 62;
export const CODE_HOT_SIZE = 256;
export const CODE_PAGES_BASE = CODE_HOT_BASE + CODE_HOT_SIZE;

// Request bits (VCPU_REQUEST_U32)
export const REQ_RUN = 1;
export const REQ_PAUSE = 2;
export const REQ_KICK = 4;
export const REQ_DESTROY = 8;

// Lifecycle states (VCPU_STATE_U32)
export const VCPU_STATE_STARTING = 0;
export const VCPU_STATE_READY = 1; // created, waiting for the first run()
export const VCPU_STATE_RUNNING = 2;
export const VCPU_STATE_PAUSED = 3;
export const VCPU_STATE_EXITED = 4; // returned an exit, waiting for the next run()
export const VCPU_STATE_DESTROYED = 5;
export const VCPU_STATE_FAILED = 6; // the worker threw; the owner gets the error

// Exit reasons returned by the core's run() and stored in RUN_EXIT_REASON_U32
export const EXIT_NONE = 0;
export const EXIT_BUDGET = 1; // slice used up: a quiescent point, not shown to the owner
export const EXIT_REQUEST = 2; // a request bit was set: not shown to the owner
export const EXIT_HLT = 3;
export const EXIT_IO = 4; // an MMIO or port access no socket claims
export const EXIT_UNSUPPORTED = 5; // an instruction the core does not implement (detail: opcode)
export const EXIT_FETCH = 6; // code fetch where no RAM or ROM is mapped (detail: address)
// An exception selected by VCPU_EXCEPTION_EXITS_U32 (detail: vector; error code fields).
export const EXIT_EXCEPTION = 7;
export const EXIT_SHUTDOWN = 8; // a triple fault: the processor shut down
// The vCPU is halted (HLT with the APIC present) and nothing can wake it now: the worker sleeps
// until the APIC timer's deadline or a kick. Not shown to the owner.
export const EXIT_HALTED = 9;
// LINT0 takes an ExtINT and the INTA cycle goes to the owner, who supplies the vector (completeIo;
// all ones for none). Set by the vCPU worker while its env.acknowledgeExtInt waits; run() never returns it.
export const EXIT_INTA = 10;

// Address spaces of an I/O access
export const SPACE_MMIO = 1;
export const SPACE_PIO = 2;
export const NO_SOCKET = 0xffffffff;

// ---- Guest physical memory map tables: two slots, the published one is (generation & 1) ----
export const MAP_BASE = VCPU_BLOCK_BASE + MAX_VCPUS * VCPU_BLOCK_SIZE;
export const MAP_COUNT_U32 = 0; // number of entries, sorted by (space, start)
export const MAP_ENTRY_BASE = CACHE_LINE; // entries start here
export const MAP_MAX_ENTRIES = 254;
export const MAP_ENTRY_START_U64 = 0; // first guest physical address or port
export const MAP_ENTRY_END_U64 = MAP_ENTRY_START_U64 + 8; // one past the last
export const MAP_ENTRY_TARGET_U32 = MAP_ENTRY_END_U64 + 8; // RAM/ROM: byte address; else socket id
export const MAP_ENTRY_TAG_U32 = MAP_ENTRY_TARGET_U32 + 4; // device-chosen region tag
export const MAP_ENTRY_KIND_U32 = MAP_ENTRY_TAG_U32 + 4; // REGION_*
export const MAP_ENTRY_FLAGS_U32 = MAP_ENTRY_KIND_U32 + 4; // REGION_FLAG_*
// Socket regions: byte address of the socket's first ring pair (this vCPU's is PAIR_SIZE * index
// further), for the ordering check of register-file reads and the fence of posted writes.
export const MAP_ENTRY_RINGS_U32 = MAP_ENTRY_FLAGS_U32 + 4;
// Byte address of the register-file slot of the region's offset 0 (one slot per offset), or 0.
export const MAP_ENTRY_SHADOW_U32 = MAP_ENTRY_RINGS_U32 + 4;
export const MAP_ENTRY_SIZE = 40;
export const MAP_TABLE_SIZE = MAP_ENTRY_BASE + MAP_MAX_ENTRIES * MAP_ENTRY_SIZE;
export const MAP_SLOTS = 2;
export const MAP_END = MAP_BASE + MAP_SLOTS * MAP_TABLE_SIZE;

export const REGION_RAM = 1;
export const REGION_ROM = 2;
export const REGION_MMIO = 3;
export const REGION_PIO = 4;
export const REGION_FLAG_POSTED = 1;

// ---- Sockets: each socket holds one ring pair per vCPU (like one socketpair per vCPU thread) ----
// Socket block: a header, then VMH_MAX_VCPUS_U32 pairs. A pair is two rings: the request ring
// (vCPU -> device) and the reply ring (device -> vCPU).
export const SOCKET_MAGIC = 0x534f434b; // "SOCK"
export const SOCKET_MAGIC_U32 = 0;
// The device side's doorbell: producers of every request ring of the socket bump and notify it
// when the device sleeps, so one device worker waits on one word for all vCPUs.
export const SOCKET_DOORBELL_U32 = CACHE_LINE;
// Non-zero while the device side sleeps on SOCKET_DOORBELL_U32 (set by the device only).
export const SOCKET_SLEEPING_U32 = 2 * CACHE_LINE;
// The register file: slots (SHADOW_*) the device keeps current for registers the guest polls, so
// the vCPU reads them without a message (workers/register-file.ts, assembly/register-file.ts).
// Regions name their first slot; written by the device only.
export const SOCKET_SHADOW_BASE = 4 * CACHE_LINE;
export const SOCKET_SHADOW_SLOTS = 32;
export const SHADOW_SLOT_SIZE = 4;
export const SOCKET_HEADER_SIZE = SOCKET_SHADOW_BASE + SOCKET_SHADOW_SLOTS * SHADOW_SLOT_SIZE;
// A slot: the byte a read returns (bits 0-7) when SHADOW_READABLE says reading it changes nothing;
// SHADOW_QUIET_WRITE when a write to that offset, in the device's state now, changes no slot.
export const SHADOW_VALUE_MASK = 0xff;
export const SHADOW_READABLE = 0x100;
export const SHADOW_QUIET_WRITE = 0x200;
export const RING_HEAD_U32 = 0; // producer's free-running index
// Request rings: the head a posted write that may change a register-file slot left behind (the
// write is handled once the tail reaches it). Written by the producing vCPU's core only.
export const RING_FENCE_U32 = RING_HEAD_U32 + 4;
export const RING_TAIL_U32 = CACHE_LINE; // consumer's free-running index
export const RING_CONSUMER_SLEEPING_U32 = 2 * CACHE_LINE; // consumer asleep on its wake word
export const RING_PRODUCER_SLEEPING_U32 = 3 * CACHE_LINE; // producer asleep on a full ring
export const RING_SLOTS = 4 * CACHE_LINE;
export const RING_SLOT_COUNT = 64; // a power of two
export const MSG_SIZE = 32;
export const RING_SIZE = RING_SLOTS + RING_SLOT_COUNT * MSG_SIZE;
export const PAIR_SIZE = 2 * RING_SIZE;

// Message (one ring slot)
export const MSG_OP_U32 = 0; // OP_*
export const MSG_SIZE_U32 = MSG_OP_U32 + 4; // access size: 1, 2, 4 or 8
export const MSG_OFFSET_U64 = MSG_SIZE_U32 + 4; // offset inside the region
export const MSG_DATA_U64 = MSG_OFFSET_U64 + 8;
export const MSG_SPACE_U32 = MSG_DATA_U64 + 8; // SPACE_*
export const MSG_TAG_U32 = MSG_SPACE_U32 + 4; // region tag
export const OP_READ = 1; // synchronous: answered by OP_REPLY or OP_ERROR
export const OP_WRITE = 2; // synchronous: answered by OP_REPLY or OP_ERROR
export const OP_WRITE_POSTED = 3; // no reply
export const OP_REPLY = 0x81;
export const OP_ERROR = 0x82; // the device rejected a malformed request; data holds an ERR_* code
export const ERR_BAD_OP = 1;
export const ERR_BAD_SIZE = 2;
export const ERR_BAD_SPACE = 3;
export const ERR_DEVICE = 4;
