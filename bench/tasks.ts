/**
 * What the bench orchestrator asks of a pair of bench workers (bench/bench-worker.ts) and what it
 * gets back. Shared by the Node and the browser suites, so it holds only types and plain data.
 */
import type { SocketEndpoint } from "../workers/socket";

/**
 * One timed step of a duel, run once per batch: `rounds` operations, preceded in the first batch
 * by `warmup` untimed ones.
 * - "ping-pong": the two sides pass the turn through one shared word (a round trip each);
 * - "call": a synchronous read from the bench device (a socket round trip);
 * - "post": a posted write to the bench device; the batch ends with one read that is answered
 *   only after every posted write was served.
 */
export interface Phase {
  kind: "ping-pong" | "call" | "post";
  warmup: number;
  rounds: number;
}

/**
 * One side of a duel: two workers run `batches` batches, each running every phase in order, so
 * a socket figure and its floor are measured by the same threads, interleaved in time. Side 0
 * times each phase and is the socket requester; side 1 answers the ping-pong and serves the
 * socket between phases.
 */
export interface DuelTask {
  side: 0 | 1;
  /** The word the ping-pong passes the turn through. */
  turn: SharedArrayBuffer;
  /** Both ping-pong sides sleep in Atomics.wait (and notify) rather than spin. */
  sleep: boolean;
  endpoint: SocketEndpoint;
  /** Spin checks of the SocketRequester before it sleeps on its reply. */
  requesterSpin: number;
  /** Empty polls of `serveBlocking` before the device sleeps on its doorbell. */
  deviceSpin: number;
  phases: Phase[];
  batches: number;
}

/** A bench worker's one answer: side 0 gives µs per operation of each batch, per phase. */
export type DuelReply = { samples: number[][] } | { error: string };
