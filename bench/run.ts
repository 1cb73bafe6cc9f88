/**
 * `npm run bench [-- --json]`: runs the bench suite (bench/suite.ts) in Node on worker_threads,
 * then in headless Chromium on a page served by a Vite dev server, and prints the figures for
 * people, or one JSON object with `--json`. Progress goes to stderr.
 */
import { cpus, loadavg, release } from "node:os";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createServer } from "vite";
import { spawnNodeWorker } from "../workers/node-spawn";
import { loadCore, spawnVcpu } from "../workers/node-host";
import { METRICS, runSuite, SETTINGS, TARGETS, type Metric, type SuiteResult } from "./suite";

const ENVIRONMENTS = ["node", "chromium"] as const;
type Environment = (typeof ENVIRONMENTS)[number];

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** The whole Chromium suite, page load included. */
const CHROMIUM_TIMEOUT_MS = 150_000;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function runNode(): Promise<SuiteResult> {
  return runSuite({
    core: await loadCore(),
    spawnBench: () => spawnNodeWorker(new URL("./bench-worker.ts", import.meta.url)),
    spawnVcpu,
    log: (line) => log(`node: ${line}`),
  });
}

async function runChromium(): Promise<{ result: SuiteResult; version: string }> {
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
      await page.goto(url);
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
    `Machine: ${Object.entries(machine).map(([key, value]) => `${key} ${JSON.stringify(value)}`).join(", ")}`,
  );
  return lines.join("\n");
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
  log("Node suite (worker_threads)...");
  const node = await runNode();
  log("Chromium suite (headless, Vite dev server)...");
  const browser = await runChromium();
  machine.chromium = browser.version;
  const results: Record<Environment, SuiteResult> = { node, chromium: browser.result };
  log(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (json) {
    const medians = (result: SuiteResult) => Object.fromEntries(METRICS.map((metric) => [metric, roundTo4(result.figures[metric].median)]));
    console.log(JSON.stringify({ chromium: medians(results.chromium), node: medians(results.node), machine, settings: SETTINGS, targets: targets(results) }, null, 2));
  } else {
    console.log(report(results, machine));
  }
}

await main();
