/**
 * `npm run bench [-- --json] [-- --cpu | --boot | --no-boot]`: runs the bench suite (bench/suite.ts, the
 * guest CPU figures of bench/cpu.ts included) in Node on worker_threads, then in headless Chromium
 * on a page served by a Vite dev server, then boots the default guest to its shell in both and in
 * v86 (bench/boot.ts), and prints the figures for people, or one JSON object with `--json`.
 * `--cpu` runs only the CPU workloads and prints their medians as JSON, `--boot` only the boots
 * (JSON); `--no-boot` skips the boots. Progress goes to stderr.
 */
import { cpus, loadavg, release } from "node:os";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createServer } from "vite";
import { spawnNodeWorker } from "../workers/node-spawn";
import { loadCore, spawnVcpu } from "../workers/node-host";
import { bootChromium, bootNode, bootV86, cachedGuest, type BootFigures } from "./boot";
import { CPU_SETTINGS, CPU_TARGET, runCpuSuite, type CpuOutcome, type CpuResult } from "./cpu";
import { METRICS, runSuite, SETTINGS, TARGETS, type Metric, type SuiteResult } from "./suite";
import { CPU_METRICS, WORKLOADS, type CpuMetric } from "./workloads";

const ENVIRONMENTS = ["node", "chromium"] as const;
type Environment = (typeof ENVIRONMENTS)[number];

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** The whole Chromium suite, page load included (the CPU workloads take most of it). */
const CHROMIUM_TIMEOUT_MS = 300_000;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Only the CPU workloads (`--cpu`). */
const cpuOnly = process.argv.includes("--cpu");
/** Only the guest boots (`--boot`). */
const bootOnly = process.argv.includes("--boot");
/** Without the guest boots (`--no-boot`), which take minutes. */
const withBoots = !cpuOnly && !process.argv.includes("--no-boot");

async function runNode(): Promise<SuiteResult | Pick<SuiteResult, "cpu">> {
  const env = {
    core: await loadCore(),
    spawnBench: () => spawnNodeWorker(new URL("./bench-worker.ts", import.meta.url)),
    spawnVcpu,
    log: (line: string) => log(`node: ${line}`),
  };
  return cpuOnly ? { cpu: await runCpuSuite(env) } : runSuite(env);
}

async function runChromium(): Promise<{ result: SuiteResult | Pick<SuiteResult, "cpu">; version: string }> {
  const server = await createServer({
    configFile: false,
    root: fileURLToPath(new URL(".", import.meta.url)),
    logLevel: "warn",
    clearScreen: false,
    optimizeDeps: { noDiscovery: true },
    server: {
      host: "127.0.0.1",
      port: 0,
      hmr: false,
      // Cross-origin isolation, without which a page cannot share memory with its workers.
      headers: { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" },
      fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] },
    },
  });
  try {
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error("the Vite dev server reports no local URL");
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      page.on("console", (message) => log(`chromium: ${message.text()}`));
      page.on("pageerror", (error) => log(`chromium page error: ${error.message}`));
      await page.goto(cpuOnly ? `${url}?cpu` : url);
      await page.waitForFunction(() => window.benchResult !== undefined || window.benchError !== undefined, undefined, { timeout: CHROMIUM_TIMEOUT_MS, polling: 250 });
      const { result, error } = await page.evaluate(() => ({ result: window.benchResult, error: window.benchError }));
      if (!result) throw new Error(`the Chromium suite failed: ${error}`);
      return { result, version: browser.version() };
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

const roundTo4 = (value: number): number => Number(value.toPrecision(4));

/** The targets per environment: judged on the median of paired batch ratios. */
function targets(results: Record<Environment, SuiteResult>) {
  return Object.fromEntries(ENVIRONMENTS.map((env) => [env, TARGETS.map(({ metric, floor, limit }, i) => {
    const { figures, ratios } = results[env];
    return {
      metric, floor, limit,
      paired_ratio: roundTo4(ratios[i].median),
      paired_ratio_p10: roundTo4(ratios[i].p10),
      paired_ratio_p90: roundTo4(ratios[i].p90),
      ratio_of_medians: roundTo4(figures[metric].median / figures[floor].median),
      met: ratios[i].median <= limit,
    };
  })]));
}

/** The CPU target: the integer loop's median speed in one environment. */
function cpuTarget(results: Record<Environment, SuiteResult>) {
  const outcome = results[CPU_TARGET.environment].cpu[CPU_TARGET.metric];
  const mips = "stats" in outcome ? roundTo4(outcome.stats.median) : null;
  return { metric: CPU_TARGET.metric, environment: CPU_TARGET.environment, min_mips: CPU_TARGET.minMips, mips, met: mips !== null && mips >= CPU_TARGET.minMips };
}

/** Why a CPU figure is missing, per environment that lacks it. */
function cpuNotes(results: Record<Environment, SuiteResult>): string[] {
  return CPU_METRICS.flatMap((metric) => ENVIRONMENTS.flatMap((env) => {
    const outcome = results[env].cpu[metric];
    return "unavailable" in outcome ? [`${metric} in ${env}: ${outcome.unavailable}`] : [];
  }));
}

/** What one timed run of a CPU workload does, as the Node suite ran it (nothing when it could not run). */
function runSize(results: Record<Environment, SuiteResult>, metric: CpuMetric): { instructions_per_run?: number; bytes_per_run?: number } {
  const outcome = results.node.cpu[metric];
  if (!("stats" in outcome)) return {};
  return outcome.unit === "MIPS" ? { instructions_per_run: outcome.instructions } : { bytes_per_run: outcome.bytes };
}

/** MiB/s a MIPS figure moves, for a workload that copies memory. */
function copyRate(outcome: CpuOutcome): number | undefined {
  if (!("stats" in outcome) || outcome.unit !== "MIPS" || outcome.bytes === undefined || outcome.instructions === undefined) return undefined;
  return (outcome.stats.median * 1e6 * outcome.bytes) / outcome.instructions / 2 ** 20;
}

/** The CPU section of the report. */
function cpuReport(results: Record<Environment, SuiteResult>): string[] {
  const width = 34;
  const cell = (env: Environment, metric: CpuMetric): string => {
    const outcome = results[env].cpu[metric];
    if (!("stats" in outcome)) return "n/a";
    const { median, p10, p90 } = outcome.stats;
    return `${median.toFixed(1)} [${p10.toFixed(1)} .. ${p90.toFixed(1)}] ${outcome.unit}`;
  };
  const target = cpuTarget(results);
  return [
    `Guest CPU: median [p10 .. p90] of ${CPU_SETTINGS.runs} timed runs per workload after one smaller warm-up run, each run ` +
      "a fresh guest state on the same vCPU worker, timed around vcpu.run() until HLT, its result checked against a TypeScript model.",
    "",
    `${"".padEnd(22)}${ENVIRONMENTS.map((env) => env.padEnd(width)).join("")}`,
    ...CPU_METRICS.map((metric) => `${metric.padEnd(22)}${ENVIRONMENTS.map((env) => cell(env, metric).padEnd(width)).join("")}`),
    "",
    "Workloads (flat 32-bit protected mode, paging off):",
    ...WORKLOADS.map(({ metric, description }) => {
      const { instructions_per_run: instructions, bytes_per_run: bytes } = runSize(results, metric);
      const size = instructions !== undefined ? `, ${instructions.toLocaleString("en-US")} instructions a run`
        : bytes !== undefined ? `, ${(bytes / 2 ** 20).toFixed(0)} MiB a run` : "";
      const rates = ENVIRONMENTS.map((env) => [env, copyRate(results[env].cpu[metric])] as const).filter(([, rate]) => rate !== undefined);
      const copies = rates.length === 0 ? "" : ` (copies ${rates.map(([env, rate]) => `${rate?.toFixed(1)} MiB/s in ${env}`).join(", ")})`;
      return `  ${metric}: ${description}${size}${copies}`;
    }),
    ...cpuNotes(results).map((note) => `  n/a: ${note}`),
    "",
    `Target: ${target.metric} >= ${target.min_mips} MIPS in ${target.environment}: ${target.mips ?? "n/a"} MIPS, ${target.met ? "met" : "NOT MET"}`,
  ];
}

function report(results: Record<Environment, SuiteResult>, machine: Record<string, unknown>): string {
  const cell = (env: Environment, metric: Metric): string => {
    const { median, p10, p90 } = results[env].figures[metric];
    return `${median.toFixed(3)} [${p10.toFixed(3)} .. ${p90.toFixed(3)}]`;
  };
  const width = 34;
  const lines = [
    `Medians in µs [p10 .. p90] of per-batch averages: ${SETTINGS.duels} duels per kind (fresh worker pair each) x ` +
      `${SETTINGS.batches} batches, a batch being ${SETTINGS.spinRtt.rounds} spinning or ${SETTINGS.waitRtt.rounds} sleeping ` +
      `round trips, or ${SETTINGS.posted.rounds} posted messages. Each socket figure alternates batch by batch with its floor ` +
      `in the same two workers. memmap: ${SETTINGS.memmapGroups} groups of ${SETTINGS.memmapGroupSize} back-to-back publishes.`,
    "",
    `${"".padEnd(22)}${ENVIRONMENTS.map((env) => env.padEnd(width)).join("")}`,
    ...METRICS.map((metric) => `${metric.padEnd(22)}${ENVIRONMENTS.map((env) => cell(env, metric).padEnd(width)).join("")}`),
    "",
    "Targets: median [p10 .. p90] of figure/floor per pair of adjacent batches (ratio of the medians above in parentheses):",
  ];
  const checked = targets(results);
  TARGETS.forEach(({ metric, floor, limit }, i) => {
    lines.push(`  ${metric} <= ${limit} x ${floor}:`);
    for (const env of ENVIRONMENTS) {
      const t = checked[env][i];
      lines.push(`    ${env.padEnd(9)}${t.paired_ratio}x [${t.paired_ratio_p10} .. ${t.paired_ratio_p90}] (${t.ratio_of_medians}x) ${t.met ? "met" : "MISSED"}`);
    }
  });
  lines.push(
    "",
    `Spins: hot = device serveBlocking(${SETTINGS.hotDeviceSpin}), requester spin ${SETTINGS.hotRequesterSpin} (DEFAULT_REQUEST_SPIN); ` +
      `cold = device serveBlocking(${SETTINGS.coldDeviceSpin}), requester spin ${SETTINGS.coldRequesterSpin}; posted messages use the hot pair.`,
    "",
    ...cpuReport(results),
    "",
    `Machine: ${Object.entries(machine).map(([key, value]) => `${key} ${JSON.stringify(value)}`).join(", ")}`,
  );
  return lines.join("\n");
}

interface BootResults { node: BootFigures; chromium: BootFigures; v86: { v86_boot_s: number } | string }

/** The default guest booted to its shell in Node, in the page in Chromium, and in v86 in Chromium. */
async function runBoots(): Promise<BootResults | string> {
  const guest = cachedGuest();
  if (typeof guest === "string") return guest;
  log("Boot to shell in Node...");
  const node = await bootNode(guest);
  log("Boot to shell in the page in Chromium...");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  let inChromium: BootFigures;
  try {
    inChromium = await bootChromium(browser);
  } finally {
    await browser.close();
  }
  log("Boot in v86 (the anchor)...");
  const v86 = await bootV86(guest).catch((error: Error) => `v86-boot failed: ${error.message}`);
  return { node, chromium: inChromium, v86 };
}

/** Boot figures as report lines. */
function bootReport(boots: BootResults | string | undefined): string[] {
  if (boots === undefined) return [];
  if (typeof boots === "string") return ["", `Boot: not measured (${boots})`];
  const line = (env: string, f: BootFigures): string =>
    `  ${env.padEnd(9)}${f.boot_to_shell_s} s to the shell, ${(f.instructions / 1e9).toFixed(2)} G instructions; per s: ` +
    Object.entries(f.exits_per_s).map(([kind, rate]) => `${kind} ${rate}`).join(", ");
  const v86 = typeof boots.v86 === "string" ? `  v86      ${boots.v86}` : `  v86      ${boots.v86.v86_boot_s} s to the marker (Chromium ratio ${(boots.chromium.boot_to_shell_s / boots.v86.v86_boot_s).toFixed(2)}x)`;
  return ["", "Boot of the default guest (guest/default.json) to its shell prompt:", line("node", boots.node), line("chromium", boots.chromium), v86];
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const started = performance.now();
  const machine: Record<string, unknown> = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    os: `${process.platform} ${release()}`,
    node: process.versions.node,
    node_v8: process.versions.v8,
    loadavg_at_start: loadavg().map(roundTo4),
  };
  if (bootOnly) {
    const boots = await runBoots();
    console.log(JSON.stringify(typeof boots === "string" ? { boot_note: boots, machine } : { ...boots, machine }, null, 2));
    return;
  }
  log("Node suite (worker_threads)...");
  const node = await runNode();
  log("Chromium suite (headless, Vite dev server)...");
  const browser = await runChromium();
  machine.chromium = browser.version;
  const boots = withBoots ? await runBoots() : undefined;
  log(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (!("figures" in node) || !("figures" in browser.result)) {
    const medians = (cpu: CpuResult) => Object.fromEntries(CPU_METRICS.map((metric) => {
      const outcome = cpu[metric];
      return [metric, "stats" in outcome ? roundTo4(outcome.stats.median) : null];
    }));
    console.log(JSON.stringify({ chromium: medians(browser.result.cpu), node: medians(node.cpu), machine }, null, 2));
    return;
  }
  const results: Record<Environment, SuiteResult> = { node, chromium: browser.result };
  if (json) {
    const medians = (result: SuiteResult) => ({
      ...Object.fromEntries(METRICS.map((metric) => [metric, roundTo4(result.figures[metric].median)])),
      ...Object.fromEntries(CPU_METRICS.map((metric) => {
        const outcome = result.cpu[metric];
        return [metric, "stats" in outcome ? roundTo4(outcome.stats.median) : null];
      })),
    });
    const workloads = Object.fromEntries(WORKLOADS.map(({ metric, unit, description }) => [metric, { unit, description, ...runSize(results, metric) }]));
    const boot = (env: "node" | "chromium") => (typeof boots === "object" ? boots[env] : {});
    console.log(JSON.stringify({
      chromium: { ...medians(results.chromium), ...boot("chromium") },
      node: { ...medians(results.node), ...boot("node") },
      ...(typeof boots === "object" ? { v86: boots.v86 } : typeof boots === "string" ? { boot_note: boots } : {}),
      machine,
      settings: { ...SETTINGS, cpu: { ...CPU_SETTINGS, workloads } },
      targets: targets(results),
      cpu_target: cpuTarget(results),
      notes: cpuNotes(results),
    }, null, 2));
  } else {
    console.log([report(results, machine), ...bootReport(boots)].join("\n"));
  }
}

await main();
