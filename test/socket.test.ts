// The socketpair between real worker threads: ordering of posted and synchronous messages,
// back-pressure on a full ring, several vCPU pairs on one device, and refusal of bad input.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ERR_BAD_SIZE, OP_READ, OP_WRITE_POSTED, RING_HEAD_U32, RING_SLOT_COUNT, SOCKET_HEADER_SIZE } from "../assembly/abi/layout";
import { spawnNodeWorker } from "../workers/node-spawn";
import { SocketRequester, SocketServer, initSocket, type SocketEndpoint } from "../workers/socket";
import type { WorkerHandle } from "../workers/worker-handle";
import type { ClientInit, ClientResult } from "./fixtures/socket-client";
import type { DeviceInit, DeviceMessage } from "./fixtures/socket-device";

const workers: WorkerHandle[] = [];
after(() => workers.forEach((w) => w.terminate()));

function newSocket(pairs = 2): SocketEndpoint {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  const endpoint = { memory, id: 0, base: 1024, pairs };
  initSocket(endpoint);
  return endpoint;
}

function startDevice(init: DeviceInit): { worker: WorkerHandle; errors: number[]; log: () => Promise<[number, number, number, number][]> } {
  const worker = spawnNodeWorker(new URL("./fixtures/socket-device.ts", import.meta.url));
  workers.push(worker);
  const errors: number[] = [];
  const logWaiters: ((log: [number, number, number, number][]) => void)[] = [];
  worker.onMessage((m) => {
    const message = m as DeviceMessage;
    if (message.type === "error") errors.push(message.code);
    else logWaiters.shift()?.(message.log);
  });
  worker.postMessage(init);
  return {
    worker,
    errors,
    log: () => new Promise((resolve) => { logWaiters.push(resolve); worker.postMessage({ type: "log" }); }),
  };
}

function runClient(init: ClientInit): Promise<ClientResult[]> {
  const worker = spawnNodeWorker(new URL("./fixtures/socket-client.ts", import.meta.url));
  workers.push(worker);
  return new Promise((resolve, reject) => {
    worker.onMessage((m) => resolve(m as ClientResult[]));
    worker.onError(reject);
    worker.postMessage(init);
  });
}

for (const mode of ["async", "blocking"] as const) {
  test(`a synchronous read is served after every earlier posted write (${mode} device)`, async () => {
    const socket = newSocket();
    startDevice({ socket, mode, spin: 1000 });
    const results = await runClient({
      socket, pair: 0,
      script: [{ op: "post", offset: 8, value: 0, count: 1000 }, { op: "read", offset: 8 }, { op: "write", offset: 16, value: 7 }, { op: "read", offset: 16 }],
    });
    assert.deepEqual(results, [{ value: 999 }, { value: 7 }, { value: 7 }]);
  });
}

test("a full ring holds the producer back and loses nothing", async () => {
  const socket = newSocket();
  const device = startDevice({ socket, mode: "async", waitForStart: true });
  const progress = new Int32Array(new SharedArrayBuffer(4));
  const count = RING_SLOT_COUNT * 3;
  const client = runClient({ socket, pair: 0, progress, script: [{ op: "post", offset: 0, value: 100, count }, { op: "read", offset: 0 }] });
  // With nobody consuming, the client stops after filling the ring.
  while (Atomics.load(progress, 0) < RING_SLOT_COUNT) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(Atomics.load(progress, 0), RING_SLOT_COUNT);
  device.worker.postMessage({ type: "start" });
  assert.deepEqual(await client, [{ value: 100 + count - 1 }]);
  const log = await device.log();
  const posted = log.filter(([op]) => op === OP_WRITE_POSTED).map(([, , data]) => data);
  assert.deepEqual(posted, Array.from({ length: count }, (_, i) => 100 + i));
});

test("one device serves the ring pairs of several vCPUs, each in order", async () => {
  const socket = newSocket(3);
  const device = startDevice({ socket, mode: "async" });
  const clients = [0, 1, 2].map((pair) => runClient({
    socket, pair,
    script: [{ op: "post", offset: pair * 4, value: pair * 1000, count: 300 }, { op: "read", offset: pair * 4 }],
  }));
  assert.deepEqual(await Promise.all(clients), [[{ value: 299 }], [{ value: 1299 }], [{ value: 2299 }]]);
  const log = await device.log();
  for (const pair of [0, 1, 2]) {
    const mine = log.filter(([op, , , tag]) => op === OP_WRITE_POSTED && tag === pair).map(([, , data]) => data);
    assert.deepEqual(mine, Array.from({ length: 300 }, (_, i) => pair * 1000 + i));
  }
});

test("a malformed request is refused with an error and never reaches the device", async () => {
  const socket = newSocket();
  const device = startDevice({ socket, mode: "async" });
  const results = await runClient({ socket, pair: 0, script: [{ op: "read", offset: 4, size: 3 }, { op: "read", offset: 4 }] });
  assert.deepEqual(results, [{ error: ERR_BAD_SIZE }, { value: 0 }]);
  assert.deepEqual(device.errors, [ERR_BAD_SIZE]);
  assert.deepEqual((await device.log()).map(([op, , , ]) => op), [OP_READ]);
});

test("corrupt ring indices raise a SocketError instead of reading garbage", () => {
  const socket = newSocket();
  const server = new SocketServer(socket, () => assert.fail("handler must not run"));
  new Int32Array(socket.memory.buffer)[(socket.base + SOCKET_HEADER_SIZE + RING_HEAD_U32) >> 2] = RING_SLOT_COUNT + 5;
  assert.throws(() => server.poll(), /corrupt/);
});

test("endpoints are checked: no socket at the address, a pair that does not exist", () => {
  const socket = newSocket();
  assert.throws(() => new SocketRequester({ ...socket, base: 8192 }, 0), /no socket/);
  assert.throws(() => new SocketRequester(socket, 2), /no ring pair 2/);
});
