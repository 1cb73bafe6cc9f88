/**
 * Dirty page logging: one bit per 4 KiB page of guest RAM, set by the core (atomic OR) on guest
 * writes while logging is on, collected here by atomic fetch-and-clear. Collection is
 * range-based (only pages in [start, end)) and work-based (at most maxPages per call); pages not
 * returned stay dirty for the next call. Offsets are into guest RAM, so aliases of one page in
 * the memory map share its bit.
 */
import { PAGE_SIZE, VMH_BASE, VMH_DIRTY_LOG_U32 } from "../assembly/abi/layout";
import { ramOffset, type RamOffset } from "./addresses";
import type { VmLayout } from "./vm-layout";

/** What to collect. */
export interface CollectOptions {
  /** First RAM offset to look at (rounded down to a page); default 0. */
  start?: number;
  /** RAM offset to stop at (rounded up to a page); default the end of RAM. */
  end?: number;
  /** Most pages to return; default all. */
  maxPages?: number;
}

export class DirtyLog {
  private readonly bitmap: Int32Array;
  private readonly flag: Int32Array;
  private readonly pages: number;

  constructor(memory: WebAssembly.Memory, layout: VmLayout) {
    this.bitmap = new Int32Array(memory.buffer, layout.dirtyBase, layout.dirtyBytes / 4);
    this.flag = new Int32Array(memory.buffer, VMH_BASE + VMH_DIRTY_LOG_U32, 1);
    this.pages = layout.ramBytes / PAGE_SIZE;
  }

  get enabled(): boolean {
    return Atomics.load(this.flag, 0) !== 0;
  }

  /** Switches logging on or off (vCPUs see it at once; callers that need a barrier wait for a grace period). */
  setEnabled(on: boolean): void {
    Atomics.store(this.flag, 0, on ? 1 : 0);
  }

  /** Returns, in ascending order, RAM offsets of dirty pages and clears their bits. */
  collect(options: CollectOptions = {}): RamOffset[] {
    const first = Math.floor((options.start ?? 0) / PAGE_SIZE);
    const last = Math.min(this.pages, Math.ceil((options.end ?? this.pages * PAGE_SIZE) / PAGE_SIZE));
    let budget = options.maxPages ?? Infinity;
    if (first < 0 || !(budget >= 0)) throw new RangeError("collect needs start >= 0 and maxPages >= 0");
    const found: RamOffset[] = [];
    for (let page = first; page < last && budget > 0; page = (page | 31) + 1) {
      const word = page >> 5;
      // The bits of this word inside [page, last).
      const lo = page & 31;
      const hi = Math.min(32, last - (word << 5));
      const mask = (hi === 32 ? ~0 : (1 << hi) - 1) & ~((1 << lo) - 1);
      const bits = Atomics.load(this.bitmap, word) & mask;
      if (bits === 0) continue;
      let taken = 0;
      for (let b = lo; b < hi && budget > 0; b++) {
        if (bits & (1 << b)) {
          taken |= 1 << b;
          found.push(ramOffset(((word << 5) + b) * PAGE_SIZE));
          budget--;
        }
      }
      Atomics.and(this.bitmap, word, ~taken);
    }
    return found;
  }
}
