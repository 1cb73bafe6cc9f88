/**
 * The bench worker: plays one side of the DuelTask (bench/tasks.ts) posted as its first message
 * and posts one DuelReply. The same module runs in a browser worker and under worker_threads.
 *
 * The bench device behind the socket: a posted write counts, a read returns the count so far, a
 * synchronous write stops the server (side 1 then goes on to the next phase).
 */
import { OP_READ, OP_WRITE, OP_WRITE_POSTED, SPACE_MMIO } from "../assembly/abi/layout";
import { newMessage, SocketRequester, SocketServer } from "../workers/socket";
import { firstMessage, workerScope } from "../workers/worker-handle";
import type { DuelReply, DuelTask, Phase } from "./tasks";

/**
 * Both sides pass the turn through the same code: the shared counter's parity says whose turn it
 * is (side 0 on even). A side's turn is to wait for it, then bump the counter.
 */
function turnTaking(task: DuelTask): { awaitTurn: () => void; turn: () => void } {
  const words = new Int32Array(task.turn);
  const { side, sleep } = task;
  const awaitTurn = (): number => {
    for (;;) {
      const value = Atomics.load(words, 0);
      if ((value & 1) === side) return value;
      if (sleep) Atomics.wait(words, 0, value);
    }
  };
  const turn = (): void => {
    Atomics.store(words, 0, awaitTurn() + 1);
    if (sleep) Atomics.notify(words, 0);
  };
  return { awaitTurn, turn };
}

/** Side 0: times each phase of each batch; returns µs per operation, per phase. */
function measure(task: DuelTask): number[][] {
  const { awaitTurn, turn } = turnTaking(task);
  const requester = new SocketRequester(task.endpoint, 0, task.requesterSpin);
  const msg = { ...newMessage(), size: 4, space: SPACE_MMIO };
  const call = (op: number): number => {
    msg.op = op;
    requester.call(msg);
    return msg.data;
  };
  let sent = 0;
  const post = (): void => {
    msg.op = OP_WRITE_POSTED;
    requester.post(msg);
    sent++;
  };
  // The read is queued behind every posted write, so its answer proves they were all served.
  const drained = (): void => {
    const served = call(OP_READ);
    if (served !== sent >>> 0) throw new Error(`device served ${served} posted writes, ${sent} were sent`);
  };
  // What each phase repeats, and what ends a batch inside its timing. Side 0 times `rounds` turns
  // plus the wait for the last answer: `rounds` round trips.
  const steps: Record<Phase["kind"], [operation: () => void, settle: () => void]> = {
    "ping-pong": [turn, awaitTurn],
    call: [() => call(OP_READ), () => undefined],
    post: [post, drained],
  };
  const samples = task.phases.map((): number[] => []);
  for (let batch = 0; batch < task.batches; batch++) {
    task.phases.forEach((phase, i) => {
      const [operation, settle] = steps[phase.kind];
      if (batch === 0) {
        for (let n = 0; n < phase.warmup; n++) operation();
        settle();
      }
      const start = performance.now();
      for (let n = 0; n < phase.rounds; n++) operation();
      settle();
      samples[i].push(((performance.now() - start) * 1000) / phase.rounds);
      if (phase.kind !== "ping-pong") call(OP_WRITE);
    });
  }
  return samples;
}

/** Side 1: answers every ping-pong phase and serves the device through every socket phase. */
function answer(task: DuelTask): void {
  const { turn } = turnTaking(task);
  let posted = 0;
  for (let batch = 0; batch < task.batches; batch++) {
    for (const phase of task.phases) {
      if (phase.kind === "ping-pong") {
        for (let n = phase.rounds + (batch === 0 ? phase.warmup : 0); n > 0; n--) turn();
        continue;
      }
      const server = new SocketServer(task.endpoint, (msg) => {
        if (msg.op === OP_WRITE_POSTED) posted++;
        else if (msg.op === OP_READ) msg.data = posted >>> 0;
        else server.stop();
      });
      server.serveBlocking(task.deviceSpin);
    }
  }
}

const task = await firstMessage<DuelTask>();
let reply: DuelReply;
try {
  if (task.side === 0) {
    reply = { samples: measure(task) };
  } else {
    answer(task);
    reply = { samples: [] };
  }
} catch (error) {
  reply = { error: error instanceof Error ? error.message : String(error) };
}
workerScope.postMessage(reply);
