/**
 * Waits, without blocking the caller's thread (a page's main thread included), until `done()`
 * holds, waking whenever the word at `index` changes. Whoever changes the state `done()` reads
 * notifies that word; the one-second timeout only bounds the cost of a missed wake-up.
 */
export async function waitUntil(words: Int32Array, index: number, done: () => boolean): Promise<void> {
  while (!done()) {
    const seen = Atomics.load(words, index);
    if (done()) return;
    const result = Atomics.waitAsync(words, index, seen, 1000);
    if (result.async) await result.value;
  }
}
