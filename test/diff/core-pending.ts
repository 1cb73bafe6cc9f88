/**
 * Rows the differential test does not compare with the core yet, each with what the core gets
 * wrong or lacks: the one place to update as the core grows. These rows still run on the host CPU
 * (a self-check of the generators and the runner); every other row is compared, and
 * `DIFF_CORE=all` compares these too. Observed with the core of the day this list was written.
 */
/** Row name -> what the core does differently from the host. */
export const CORE_PENDING: ReadonlyMap<string, string> = new Map<string, string>([]);
