/** Reading the differential tests' settings from the environment. */

/** A non-negative integer from the environment variable `name`, or `fallback` when unset. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name}=${text} is not a non-negative integer`);
  return value;
}
