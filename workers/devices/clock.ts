/**
 * The time source of the timer models (PIT, RTC): nanoseconds on a monotonic scale. One clock
 * serves every timer of a chipset, so their deadlines compare. Injected, so tests step time by hand.
 */
export interface Clock {
  /** Nanoseconds since an arbitrary origin; never decreases. */
  now(): number;
}
