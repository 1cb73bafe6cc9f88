/**
 * The bench suite, written once for Node and the browser: only how workers are spawned and how
 * the core is compiled differ (BenchEnv). The caller's thread only orchestrates; every timed round
 * trip runs between two workers, since a page's main thread cannot Atomics.wait.
 */
import { initSocket, DEFAULT_REQUEST_SPIN, type SocketEndpoint } from "../workers/socket";
import { gpa, ramOffset } from "../workers/addresses";
import type { Region } from "../workers/memory-map";
import { REG } from "../workers/registers";
import { Vm } from "../workers/vm";
import type { WorkerHandle } from "../workers/worker-handle";
import { runCpuSuite, type CpuResult } from "./cpu";
import { summarize, withTimeout, type Stats } from "./stats";
import type { DuelReply, DuelTask, Phase } from "./tasks";

/** What differs between environments. */
export interface BenchEnv {
  /** The compiled core (build/core.wasm). */
  core: WebAssembly.Module;
  /** Starts a worker running bench/bench-worker.ts. */
  spawnBench: () => WorkerHandle;
  /** Starts a worker running workers/vcpu-worker.ts. */
  spawnVcpu: () => WorkerHandle;
  /** Progress lines. */
  log: (line: string) => void;
}

/** The figures the suite produces, all in µs. */
export const METRICS = [
  "floor_spin_rtt_us", "floor_wait_rtt_us", "socket_hot_rtt_us", "socket_cold_rtt_us", "posted_msg_us",
  "memmap_publish_us_1", "memmap_publish_us_4",
] as const;

/** One figure's name. */
export type Metric = (typeof METRICS)[number];

/** A socket figure must stay within `limit` times the floor its duel alternates it with. */
export const TARGETS = [
  { metric: "socket_hot_rtt_us", floor: "floor_spin_rtt_us", limit: 3 },
  { metric: "socket_cold_rtt_us", floor: "floor_wait_rtt_us", limit: 1.5 },
] as const satisfies readonly { metric: Metric; floor: Metric; limit: number }[];

/** One environment's results. */
export interface SuiteResult {
  figures: Record<Metric, Stats>;
  /** Per TARGETS entry: figure / floor of each batch, paired with the floor batch before it. */
  ratios: Stats[];
  /** The guest CPU's speed (bench/cpu.ts). */
  cpu: CpuResult;
}

/** How hard each figure is driven; reported beside the results. */
export const SETTINGS = {
  /** Duels per kind, each with fresh workers (so fresh placement by the scheduler). */
  duels: 10,
  /** Batches per duel: each batch runs every phase of the duel once. */
  batches: 8,
  spinRtt: { warmup: 20_000, rounds: 20_000 },
  waitRtt: { warmup: 200, rounds: 300 },
  posted: { warmup: 10_000, rounds: 100_000 },
  /** Empty polls before the hot device would sleep: it never does while a batch runs. */
  hotDeviceSpin: 10_000_000,
  /** The hot requester uses the VM's default spin before it would sleep. */
  hotRequesterSpin: DEFAULT_REQUEST_SPIN,
  /** The cold device sleeps on its doorbell as soon as its rings are empty. */
  coldDeviceSpin: 0,
  /** The cold requester sleeps as soon as its reply is not there. */
  coldRequesterSpin: 0,
  memmapWarmup: 10,
  /** Publishes are timed in groups, so a browser's coarse clock (5 µs) does not quantize them. */
  memmapGroups: 40,
  memmapGroupSize: 5,
  /** Longest one duel or memmap figure may take before the suite gives up. */
  timeoutMs: 60_000,
} as const;

/** A duel: its spins and which figure each of its phases gives. */
interface Duel {
  name: string;
  sleep: boolean;
  deviceSpin: number;
  requesterSpin: number;
  phases: [Metric, Phase][];
}

const DUELS: readonly Duel[] = [
  {
    name: "hot",
    sleep: false,
    deviceSpin: SETTINGS.hotDeviceSpin,
    requesterSpin: SETTINGS.hotRequesterSpin,
    phases: [
      ["floor_spin_rtt_us", { kind: "ping-pong", ...SETTINGS.spinRtt }],
      ["socket_hot_rtt_us", { kind: "call", ...SETTINGS.spinRtt }],
      ["posted_msg_us", { kind: "post", ...SETTINGS.posted }],
    ],
  },
  {
    name: "cold",
    sleep: true,
    deviceSpin: SETTINGS.coldDeviceSpin,
    requesterSpin: SETTINGS.coldRequesterSpin,
    phases: [
      ["floor_wait_rtt_us", { kind: "ping-pong", ...SETTINGS.waitRtt }],
      ["socket_cold_rtt_us", { kind: "call", ...SETTINGS.waitRtt }],
    ],
  },
];

/** Runs one duel on two fresh bench workers; returns side 0's samples per phase. */
async function runDuel(env: BenchEnv, duel: Duel): Promise<number[][]> {
  const endpoint: SocketEndpoint = { memory: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }), id: 0, base: 0, pairs: 1 };
  initSocket(endpoint);
  const { sleep, deviceSpin, requesterSpin } = duel;
  const shared = { turn: new SharedArrayBuffer(4), sleep, endpoint, requesterSpin, deviceSpin, phases: duel.phases.map(([, phase]) => phase), batches: SETTINGS.batches };
  const workers = [env.spawnBench(), env.spawnBench()];
  try {
    const replies = workers.map((worker, side) => new Promise<number[][]>((resolve, reject) => {
      worker.onError(reject);
      worker.onMessage((message) => {
        const reply = message as DuelReply;
        if ("error" in reply) reject(new Error(`${duel.name} duel, side ${side}: ${reply.error}`));
        else resolve(reply.samples);
      });
      worker.postMessage({ ...shared, side: side as 0 | 1 } satisfies DuelTask);
    }));
    const [samples] = await withTimeout(Promise.all(replies), `the ${duel.name} duel`, SETTINGS.timeoutMs);
    return samples;
  } finally {
    workers.forEach((worker) => worker.terminate());
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Times setMemoryMap (µs per publish of each group) while `count` vCPUs run `jmp $`. */
async function memmapPublish(env: BenchEnv, count: number): Promise<number[]> {
  const RAM = 1 << 20;
  const map: Region[] = [{ kind: "ram", gpa: gpa(0), size: RAM, ramOffset: ramOffset(0) }];
  const vm = new Vm({ ramBytes: RAM, maxVcpus: count, core: env.core, spawnVcpu: env.spawnVcpu });
  let failure: Error | undefined;
  const check = (): void => {
    if (failure) throw failure;
  };
  const running = (): boolean => vm.vcpus.every((cpu) => cpu.state === "running");
  try {
    await vm.setMemoryMap(map);
    vm.ram.set([0xeb, 0xfe], 0x1000); // jmp $
    for (let i = 0; i < count; i++) {
      const cpu = await vm.createVcpu();
      cpu.setState([{ tag: REG["cs.base"], value: 0 }, { tag: REG["cs.selector"], value: 0 }, { tag: REG.rip, value: 0x1000 }]);
      // jmp $ never exits, so run() settles only on a failure or after destroy(); nothing here
      // waits for the latter.
      void cpu.run().then(
        (exit) => void (failure ??= new Error(`vCPU ${i} exited (${exit.reason})`)),
        (error: unknown) => void (failure ??= error instanceof Error ? error : new Error(String(error))),
      );
    }
    const deadline = performance.now() + SETTINGS.timeoutMs;
    while (!running()) {
      check();
      if (performance.now() > deadline) throw new Error(`${count} vCPUs did not start running`);
      await delay(1);
    }
    for (let i = 0; i < SETTINGS.memmapWarmup; i++) await vm.setMemoryMap(map);
    const samples: number[] = [];
    for (let group = 0; group < SETTINGS.memmapGroups; group++) {
      const start = performance.now();
      for (let i = 0; i < SETTINGS.memmapGroupSize; i++) await vm.setMemoryMap(map);
      samples.push(((performance.now() - start) * 1000) / SETTINGS.memmapGroupSize);
    }
    check();
    if (!running()) throw new Error(`a vCPU stopped running: ${vm.vcpus.map((cpu) => cpu.state).join(", ")}`);
    return samples;
  } finally {
    await vm.destroy();
  }
}

/**
 * Runs every figure, one at a time (together they would compete for the cores). Duels repeat in
 * rounds with fresh workers, pooling their batches: wake-up latency depends on where the scheduler
 * puts the two threads, and a socket figure is compared with a floor sampled by the same threads.
 * The CPU figures come last.
 */
export async function runSuite(env: BenchEnv): Promise<SuiteResult> {
  const samples = {} as Record<Metric, number[]>;
  for (let round = 1; round <= SETTINGS.duels; round++) {
    for (const duel of DUELS) {
      const perPhase = await runDuel(env, duel);
      const medians = duel.phases.map(([metric], i) => {
        (samples[metric] ??= []).push(...perPhase[i]);
        return `${metric} ${summarize(perPhase[i]).median.toFixed(3)}`;
      });
      env.log(`round ${round}/${SETTINGS.duels}, ${duel.name} duel, medians in µs: ${medians.join(", ")}`);
    }
  }
  for (const count of [1, 4] as const) {
    const metric = `memmap_publish_us_${count}` as const;
    samples[metric] = await memmapPublish(env, count);
    env.log(`${metric}: median ${summarize(samples[metric]).median.toFixed(3)} µs`);
  }
  return {
    figures: Object.fromEntries(METRICS.map((metric) => [metric, summarize(samples[metric])])) as Record<Metric, Stats>,
    // Phases of one duel are pooled in the same order, so index i pairs batches of one duel.
    ratios: TARGETS.map(({ metric, floor }) => summarize(samples[metric].map((value, i) => value / samples[floor][i]))),
    cpu: await runCpuSuite(env),
  };
}
