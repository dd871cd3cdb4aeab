/**
 * `npm run bench:metrics`: what the Prometheus metrics cost. The toolkit serves the bundled iris
 * model (`node dist/cli.js serve`, default settings) with `BYOC_METRICS=false` and with
 * `BYOC_METRICS=true`, one server at a time, and `load.ts` measures single-row JSON throughput at
 * concurrency 8, as `npm run bench` does. With metrics on, `/metrics` is scraped every second
 * during the run (a Prometheus server scrapes every 15 to 60 s: this is the dear end). The two
 * settings alternate within each round (off then on, then on then off), so drift in a shared
 * machine's load falls on both alike; each round gives one on/off ratio, and the report gives the
 * median ratio and its spread over the rounds.
 *
 * Writes `bench/results/metrics-cost.json` and the README's metrics-cost paragraph (between
 * `<!-- metrics-cost:start -->` and `<!-- metrics-cost:end -->`), so the figure in the docs is the
 * one this script measured. Exits 1 when a request failed.
 *
 * Environment knobs: `BENCH_ROUNDS` (5), `BENCH_SECONDS` (8), `BENCH_WARMUP_SECONDS` (2),
 * `BENCH_SKIP_BUILD=1` (bench the `dist/` already built).
 */
import type { DataPlane } from "../src/dispatch/data-plane.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { ServerMetrics } from "../src/protocols/metrics/server-metrics.js";
import { describeLoadAverage } from "./machine.js";
import { prepareAssets } from "./assets.js";
import type { LoadOptions, LoadRun } from "./load.js";
import { freePort, repoRoot, runNodeForJson, startNodeServer } from "./processes.js";
import { median } from "./stats.js";
import { benchModel, benchRequest, requestBodyPath } from "./workloads.js";
import { positiveIntegerFromEnv } from "./env-knobs.js";

interface Run {
  readonly metrics: boolean;
  readonly requestsPerSecond: number;
  readonly failed: number;
  readonly scrapes: number;
}

const rounds = positiveIntegerFromEnv("BENCH_ROUNDS", 5);
const seconds = positiveIntegerFromEnv("BENCH_SECONDS", 8);
const warmUpSeconds = positiveIntegerFromEnv("BENCH_WARMUP_SECONDS", 2);
const connections = 8;
const scrapeIntervalMs = 1_000;

function progress(message: string): void {
  process.stderr.write(`[bench:metrics] ${message}\n`);
}

function build(): void {
  if (process.env["BENCH_SKIP_BUILD"] === "1") return;
  progress("building dist/ (tsc -p tsconfig.json)");
  const result = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
}

/** One throughput run against a fresh server with metrics on or off. */
async function measure(metrics: boolean): Promise<Run> {
  const port = await freePort();
  process.env["BYOC_METRICS"] = String(metrics);
  const server = await startNodeServer(["dist/cli.js", "serve", "--model-dir", "examples/iris/model", "--port", String(port)], port);
  let scrapes = 0;
  const scraper = metrics
    ? setInterval(() => {
        void fetch(`${server.url}/metrics`).then(
          async (response) => {
            await response.text();
            if (response.status === 200) scrapes++;
          },
          () => undefined,
        );
      }, scrapeIntervalMs)
    : undefined;
  try {
    const request = benchRequest(benchModel("iris"), "json-1");
    const options: LoadOptions = {
      mode: "closed-loop",
      url: server.url,
      bodyFile: requestBodyPath("iris", "json-1"),
      contentType: request.contentType,
      accept: request.accept,
      connections,
      seconds,
      warmUpSeconds,
    };
    const run = await runNodeForJson<LoadRun>(["--import", "tsx", "bench/load.ts", JSON.stringify(options)]);
    const failed = run.failures.errors + run.failures.timeouts + run.failures.non2xx + run.failures.mismatches;
    return { metrics, requestsPerSecond: run.requestsPerSecond, failed, scrapes };
  } finally {
    clearInterval(scraper);
    await server.stop();
  }
}

/**
 * What the request path's observations cost on their own, in this process: one request's route
 * count and latency plus its four stage timings, timed over many iterations (nanoseconds per
 * request). Less noisy than the throughput difference, which the shared machine blurs.
 */
function observationCostNs(): number {
  const models: DataPlane = {
    readiness: { ready: true, failure: undefined },
    models: () => [{ name: "model", ready: true, signature: undefined }],
    model: () => ({ name: "model", ready: true, signature: undefined }),
    report: () => undefined,
    invoke: () => Promise.reject(new Error("unused")),
  };
  const metrics = new ServerMetrics({ models, defaultMetrics: false });
  const route = metrics.route("/invocations");
  const stages = metrics.stages("model");
  const timings = { queueMs: 0.05, decodeMs: 0.004, predictMs: 0.02, encodeMs: 0.003 };
  const iterations = 2_000_000;
  let best = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < iterations; index++) {
      route.observe(200, 0.0001 + (index % 100) * 1e-6);
      stages.observe(timings);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - started) / iterations);
  }
  return best;
}

function percent(ratio: number): string {
  const change = (ratio - 1) * 100;
  return `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`;
}

function writeReadme(paragraph: string): void {
  const readme = join(repoRoot, "README.md");
  const text = readFileSync(readme, "utf8");
  const start = "<!-- metrics-cost:start: written by bench/metrics-cost.ts -->";
  const end = "<!-- metrics-cost:end -->";
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} markers`);
  writeFileSync(readme, `${text.slice(0, from + start.length)}\n${paragraph}\n${text.slice(to)}`);
}

async function main(): Promise<number> {
  build();
  await prepareAssets(["iris"]);
  const loadBefore = loadavg()[0] as number;
  const observationNs = observationCostNs();
  progress(`one request's observations: ${observationNs.toFixed(0)} ns`);
  const runs: Run[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [false, true] : [true, false];
    const pair: Run[] = [];
    for (const metrics of order) {
      progress(`round ${round}/${rounds}: metrics ${metrics ? "on" : "off"}, c=${connections} for ${warmUpSeconds} + ${seconds} s`);
      const run = await measure(metrics);
      pair.push(run);
      runs.push(run);
    }
    const on = pair.find((run) => run.metrics) as Run;
    const off = pair.find((run) => !run.metrics) as Run;
    ratios.push(on.requestsPerSecond / off.requestsPerSecond);
  }
  const loadAfter = loadavg()[0] as number;
  const off = runs.filter((run) => !run.metrics).map((run) => run.requestsPerSecond);
  const on = runs.filter((run) => run.metrics).map((run) => run.requestsPerSecond);
  const failed = runs.reduce((total, run) => total + run.failed, 0);
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const date = new Date().toISOString().slice(0, 10);
  const results = { date, cpu, cores: availableParallelism(), node: process.version, rounds, seconds, warmUpSeconds, connections, scrapeIntervalMs, observationNs, loadAverage: [loadBefore, loadAfter], runs, ratios, failed };
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/metrics-cost.json"), `${JSON.stringify(results, null, 2)}\n`);

  const round = (value: number): string => Math.round(value).toLocaleString("en-US");
  const spread = Math.max(...ratios) - Math.min(...ratios);
  const paragraph =
    `Measured by \`npm run bench:metrics\` on ${date} (${cpu}, ${availableParallelism()} cores shared with the load generator, Node ${process.version}): ` +
    `single-row JSON \`POST /invocations\` on the iris model at concurrency 8, ${rounds} rounds of ${seconds} s (after ${warmUpSeconds} s of warm-up) with metrics off and on, ` +
    `\`/metrics\` scraped every ${scrapeIntervalMs / 1000} s while on. The change in throughput with metrics on: median ${percent(median(ratios))} ` +
    `(rounds from ${percent(Math.min(...ratios))} to ${percent(Math.max(...ratios))}); median ${round(median(off))} req/s off ` +
    `(${round(Math.min(...off))}-${round(Math.max(...off))}), ${round(median(on))} req/s on (${round(Math.min(...on))}-${round(Math.max(...on))}). ` +
    `${describeLoadAverage(loadBefore, loadAfter, availableParallelism())}. Other work may share a machine at any moment, ` +
    "so each round pairs an off run with an on run and the figure is the median of the rounds' ratios" +
    (spread > 0.06 ? `; on this run the rounds spread over ${(spread * 100).toFixed(0)} points, more than the effect sought, so the throughput figure is inconclusive. ` : ". ") +
    `On its own, what the request path adds per request (its route count and latency, and four stage timings) took ${observationNs.toFixed(0)} ns, timed in process.`;
  writeReadme(paragraph);
  console.log(paragraph);
  if (failed > 0) {
    progress(`${failed} requests failed: exit 1`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
