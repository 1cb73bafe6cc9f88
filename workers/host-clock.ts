/**
 * The host clock the core's time-stamp counter runs from: nanoseconds since the Unix epoch. The
 * sum of `performance.timeOrigin` and `performance.now()` is the same in every worker of a page or
 * process, unlike `performance.now()` alone, so all vCPUs of a VM see one TSC.
 */
export const hostNanoseconds = (): number => (performance.timeOrigin + performance.now()) * 1e6;
