/**
 * A vCPU's compiler of hot blocks. The core counts the runs of each decoded block and queues the
 * ones that reach the threshold in its code cache (CODE_HOT_* in assembly/abi/layout.ts); between
 * two run() calls the vCPU worker calls compileQueued(), which compiles the queue into one module
 * (block-compiler.ts), puts its functions into the function table the core imports, and writes
 * each one's table index into its block's header, where the core looks before running a block.
 * The table is this worker's own: compiled code is per vCPU, like the code cache.
 */
import {
  CODE_HOT_BASE, CODE_HOT_COUNT_U32, CODE_HOT_ENTRIES_BASE, CODE_HOT_FLUSHES_U32, STAT_COMPILED_BLOCKS_F64,
  STAT_COMPILE_MS_F64, VCPU_JIT_THRESHOLD_U32,
} from "../../assembly/abi/layout";
import { B_COMPILED } from "../../assembly/abi/block-records";
import { CORE_IMPORTS } from "./block-abi";
import { compileBlocks } from "./block-compiler";

/** Runs of a block before it is compiled. */
export const JIT_THRESHOLD = 3000;
/** Blocks worth a module of their own; fewer wait up to BATCH_WAIT_MS for company (a module costs more than its functions). */
const BATCH = 32;
const BATCH_WAIT_MS = 20;
/** Table indices fit the header's u16; index 0 means "not compiled". */
const MAX_SLOTS = 0xffff;

export class BlockJit {
  /** The function table the core imports as `env.table`. */
  readonly table = new WebAssembly.Table({ element: "anyfunc", initial: 1 });
  private core: WebAssembly.ModuleImports | undefined;
  private nextSlot = 1;
  private flushes = -1;
  private failed = false;
  private lastCompile = 0;

  /**
   * `vcpu`: the vCPU's state block; `arena`: its code cache (VmLayout codeBase + index * codeStride).
   */
  constructor(private readonly memory: WebAssembly.Memory, private readonly vcpu: number, private readonly arena: number) {}

  /** Connects the core instance (whose exports compiled code imports) and turns compiling on. */
  attach(coreExports: WebAssembly.Exports, threshold = JIT_THRESHOLD): void {
    this.core = Object.fromEntries(CORE_IMPORTS.map((name) => {
      if (!(name in coreExports)) throw new Error(`the core does not export ${name}, which compiled blocks need`);
      return [name, coreExports[name] as WebAssembly.ImportValue];
    }));
    new DataView(this.memory.buffer).setUint32(this.vcpu + VCPU_JIT_THRESHOLD_U32, threshold, true);
  }

  /**
   * Compiles the blocks the core queued since the last call (unless they are few and the last
   * module is recent: they wait for company; `all` compiles them anyway). Call between run()
   * calls only.
   */
  compileQueued(all = false): void {
    const view = new DataView(this.memory.buffer);
    const hot = this.arena + CODE_HOT_BASE;
    const flushes = view.getUint32(hot + CODE_HOT_FLUSHES_U32, true);
    if (flushes !== this.flushes) {
      // The core dropped every block: the table's functions are unreachable and their slots free.
      this.flushes = flushes;
      this.nextSlot = 1;
    }
    const count = view.getUint32(hot + CODE_HOT_COUNT_U32, true);
    if (count === 0 || !this.core || this.failed) return;
    const now = performance.now();
    if (!all && count < BATCH && now - this.lastCompile < BATCH_WAIT_MS) return;
    this.lastCompile = now;
    view.setUint32(hot + CODE_HOT_COUNT_U32, 0, true);
    if (this.nextSlot + count > MAX_SLOTS) return; // full until the next flush
    const blocks: number[] = [];
    for (let i = 0; i < count; i++) blocks.push(view.getUint32(hot + CODE_HOT_ENTRIES_BASE + i * 4, true));
    let exports: WebAssembly.Exports;
    const started = performance.now();
    try {
      const module = new WebAssembly.Module(compileBlocks(this.memory, this.vcpu, blocks));
      exports = new WebAssembly.Instance(module, { env: { memory: this.memory }, core: this.core }).exports;
    } catch (error) {
      // A compiler bug must not stop the guest: its blocks go on running in the core.
      this.failed = true;
      view.setUint32(this.vcpu + VCPU_JIT_THRESHOLD_U32, 0, true);
      console.warn(`block compiler failed, compiling stops: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const needed = this.nextSlot + count;
    if (this.table.length < needed) this.table.grow(Math.min(MAX_SLOTS + 1, Math.max(needed, this.table.length * 2)) - this.table.length);
    blocks.forEach((block, n) => {
      const slot = this.nextSlot++;
      this.table.set(slot, exports[`b${n}`] as (eip: number, most: number) => number);
      view.setUint16(block + B_COMPILED, slot, true);
    });
    const stats = new Float64Array(this.memory.buffer);
    stats[(this.vcpu + STAT_COMPILED_BLOCKS_F64) >> 3] += count;
    stats[(this.vcpu + STAT_COMPILE_MS_F64) >> 3] += performance.now() - started;
  }
}
