/**
 * The CPU bench: the core's speed on the fixed workloads of bench/workloads.ts, through the real
 * path (a Vm, a vCPU worker, `vcpu.run()` until HLT). Written once for Node and the browser; the
 * caller's thread only sets up, times and checks each run. A run is timed by wall clock around
 * `run()` and its instructions are read from the `instructions` register, so a figure includes
 * the worker's slice loop, as a guest would see it.
 */
import { gpa, ramOffset } from "../workers/addresses";
import type { VcpuExit } from "../workers/exits";
import { flatProtectedMode, REG } from "../workers/registers";
import type { Vcpu } from "../workers/vcpu";
import { Vm } from "../workers/vm";
import { REG32_NAMES, type Program } from "./asm";
import { summarize, withTimeout, type Stats } from "./stats";
import type { BenchEnv } from "./suite";
import { WORKLOADS, x87Probe, type CpuMetric, type GuestRun, type Workload } from "./workloads";

/** How the CPU figures are taken; reported beside the results. */
export const CPU_SETTINGS = {
  /** Timed runs per workload (each a fresh guest state and input), after one warm-up run. */
  runs: 5,
  /** Longest one run may take before the suite gives up (a guest that never halts). */
  runTimeoutMs: 60_000,
} as const;

/** The first speed target: the integer loop in Chromium. */
export const CPU_TARGET = { metric: "mips_int", environment: "chromium", minMips: 150 } as const;

/** One workload's outcome: its figure over the timed runs, or why it could not run. */
export type CpuOutcome =
  | { stats: Stats; unit: Workload["unit"]; instructions?: number; bytes?: number }
  | { unavailable: string };

/** Every CPU figure of one environment. */
export type CpuResult = Record<CpuMetric, CpuOutcome>;

const GPRS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"].map((name) => REG[name]);

/** What one run of a program did. */
interface RunRecord {
  exit: VcpuExit;
  /** Instructions retired during the run. */
  retired: number;
  ms: number;
}

const describeExit = (exit: VcpuExit): string => JSON.stringify(exit, (_, value: unknown) => (typeof value === "bigint" ? value.toString() : value));

const instructionCount = (vcpu: Vcpu): bigint => vcpu.getState([REG.instructions])[0].value;

/**
 * Loads `program` (and its input), starts it in flat protected mode with every general register
 * zero, and runs it until it stops.
 */
async function runProgram(vm: Vm, vcpu: Vcpu, program: Program, prepare?: GuestRun["prepare"]): Promise<RunRecord> {
  vm.ram.set(program.bytes, program.origin);
  prepare?.(vm.ram);
  vcpu.setState([...GPRS.map((tag) => ({ tag, value: 0n })), { tag: REG.rflags, value: 2n }, ...flatProtectedMode(program.origin)]);
  const before = instructionCount(vcpu);
  const start = performance.now();
  const exit = await withTimeout(vcpu.run(), "a guest run", CPU_SETTINGS.runTimeoutMs);
  const ms = performance.now() - start;
  return { exit, retired: Number(instructionCount(vcpu) - before), ms };
}

/** Throws, with the program's listing, unless the run ended as the reference model says. */
function verify(metric: CpuMetric, run: GuestRun, record: RunRecord, vcpu: Vcpu, ram: Uint8Array): void {
  const problems: string[] = [];
  if (record.exit.reason !== "hlt") {
    problems.push(`stopped with ${describeExit(record.exit)} after ${record.retired} instructions`);
  } else {
    if (run.instructions !== undefined && record.retired !== run.instructions) {
      problems.push(`retired ${record.retired} instructions, the reference ${run.instructions}`);
    }
    const values = vcpu.getState(GPRS).map(({ value }) => Number(value & 0xffffffffn));
    for (const [reg, expected] of Object.entries(run.registers)) {
      const actual = values[Number(reg)];
      if (actual !== expected) problems.push(`${REG32_NAMES[Number(reg)]} = 0x${actual.toString(16)}, the reference 0x${expected.toString(16)}`);
    }
    const ramProblem = run.checkRam?.(ram);
    if (ramProblem) problems.push(ramProblem);
  }
  if (problems.length > 0) throw new Error(`${metric}: the guest computed the wrong result: ${problems.join("; ")}\n${run.program.listing}`);
}

/** Why the x87 workload cannot run (the core has no x87 yet), or undefined when it can. */
async function x87Missing(vm: Vm, vcpu: Vcpu): Promise<string | undefined> {
  const { exit } = await runProgram(vm, vcpu, x87Probe());
  if (exit.reason === "unsupported-instruction") {
    return `the core has no x87 FPU yet (fld1 stops the vCPU as unsupported-instruction, opcode 0x${exit.opcode.toString(16)})`;
  }
  if (exit.reason !== "hlt") throw new Error(`the x87 probe (fld1; hlt) stopped with ${describeExit(exit)}`);
  return undefined;
}

/** One workload on a fresh VM: the warm-up run, then the timed runs, each one checked. */
async function measure(env: BenchEnv, workload: Workload): Promise<CpuOutcome> {
  const vm = new Vm({ ramBytes: workload.ramBytes, maxVcpus: 1, maxSockets: 0, core: env.core, spawnVcpu: env.spawnVcpu });
  try {
    await vm.setMemoryMap([{ kind: "ram", gpa: gpa(0), size: workload.ramBytes, ramOffset: ramOffset(0) }]);
    const vcpu = await vm.createVcpu();
    if (workload.x87) {
      const missing = await x87Missing(vm, vcpu);
      if (missing) return { unavailable: missing };
    }
    const { metric, unit } = workload;
    const warmup = workload.build(workload.warmupSize);
    const timed = workload.build(workload.timedSize);
    // The work of one timed run: millions of instructions, or MiB copied.
    const work = unit === "MIPS" ? timed.instructions : timed.bytes;
    if (work === undefined) throw new Error(`${metric}: its reference model gives no ${unit === "MIPS" ? "instruction" : "byte"} count`);
    const perRun = unit === "MIPS" ? work / 1e6 : work / 2 ** 20;
    verify(metric, warmup, await runProgram(vm, vcpu, warmup.program, warmup.prepare), vcpu, vm.ram);
    const figures: number[] = [];
    for (let i = 1; i <= CPU_SETTINGS.runs; i++) {
      const record = await runProgram(vm, vcpu, timed.program, timed.prepare);
      verify(metric, timed, record, vcpu, vm.ram);
      figures.push(perRun / (record.ms / 1000));
      env.log(`${metric}: run ${i}/${CPU_SETTINGS.runs}: ${figures[i - 1].toFixed(1)} ${unit} (${record.retired} instructions in ${record.ms.toFixed(0)} ms)`);
    }
    return { stats: summarize(figures), unit, instructions: timed.instructions, bytes: timed.bytes };
  } finally {
    await vm.destroy();
  }
}

/**
 * Runs every workload, one at a time, each on its own VM and vCPU worker (so a fresh wasm
 * instance, warmed up by its own first run).
 */
export async function runCpuSuite(env: BenchEnv): Promise<CpuResult> {
  const result = {} as CpuResult;
  for (const workload of WORKLOADS) {
    const { metric } = workload;
    const outcome = await measure(env, workload);
    result[metric] = outcome;
    env.log("stats" in outcome ? `${metric}: median ${outcome.stats.median.toFixed(1)} ${outcome.unit}` : `${metric}: n/a, ${outcome.unavailable}`);
  }
  return result;
}
