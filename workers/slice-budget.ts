/**
 * The instruction budget of a vCPU's next slice, sized so the slice ends about when the local
 * APIC's timer is due: the core checks the timer only at run() entry, so nothing counts per
 * instruction. The guest's speed is measured over the slices that used their whole budget; a
 * guess that is too long makes the timer late by the error, and re-arming the timer in the
 * middle of a slice kicks the core out of it, so the next slice is sized afresh.
 */
export class SliceBudget {
  /** Instructions per nanosecond; 50 MIPS until measured. */
  private rate = 0.05;
  private startTime = 0;
  private budget = 0;

  /** `max`: the longest slice (instructions); `min`: the shortest worth returning to JS for. */
  constructor(private readonly max: number, private readonly min = 1000) {}

  /** The budget of a slice starting at `now` (host ns) for a timer due at `deadline` (0: none). */
  next(now: number, deadline: number): number {
    this.startTime = now;
    this.budget = deadline === 0 ? this.max : Math.min(this.max, Math.max(this.min, Math.floor((deadline - now) * this.rate)));
    return this.budget;
  }

  /** A slice that ran its whole budget ended at `now`: update the measured speed. */
  usedUp(now: number): void {
    const elapsed = now - this.startTime;
    if (elapsed > 0) this.rate = 0.5 * this.rate + 0.5 * (this.budget / elapsed);
  }
}
