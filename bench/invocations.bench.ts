/**
 * `npm run bench`: single-row JSON `POST /invocations` on the bundled iris model, three ways in
 * one run, each in its own process and one server at a time (the two cores are not shared
 * between servers):
 *
 * 1. the floor: `session.run` in process (`session-run.ts`);
 * 2. the ceiling for any HTTP server: bare `node:http`, one session on the main thread
 *    (`minimal-server.ts`);
 * 3. the toolkit: `node dist/cli.js serve` with its default settings, its log on /dev/null.
 *
 * Against 2 and 3, `load.ts` (another process) measures latency at concurrency 1, throughput at
 * concurrency 8 and 64, and `/ping` latency during the c=64 run. Prints a text report and a
 * markdown table, writes `bench/results/latest.json`, and exits 1 when a request failed or the
 * two servers' predictions differ. Missed performance targets print FAIL but do not change the
 * exit code. The toolkit inherits `SAGEMAKER_*` and `BYOC_*` variables, and the report lists any.
 *
 * Environment knobs (defaults give a run of about a minute):
 * - `BENCH_SECONDS` (10) and `BENCH_WARMUP_SECONDS` (2): each throughput run and its warm-up;
 * - `BENCH_LATENCY_REQUESTS` (3000) and `BENCH_LATENCY_WARMUP` (500): the c=1 run;
 * - `BENCH_SESSION_CALLS` (20000): the in-process floor;
 * - `BENCH_PINGS` (300): pings during the c=64 run;
 * - `BENCH_TOOLKIT_ARGS`, e.g. `--log-level warn --workers 1`: extra `serve` flags;
 * - `BENCH_TOOLKIT_NODE_ARGS`, e.g. `--cpu-prof --cpu-prof-dir=bench/results/prof`: node flags
 *   for the toolkit process;
 * - `BENCH_SKIP_BUILD=1`: bench the `dist/` already built instead of running `tsc` first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, release } from "node:os";
import { join } from "node:path";
import type { LatencyRun, PingRun, ThroughputRun } from "./load.js";
import { freePort, repoRoot, runNodeForJson, startChildServer } from "./processes.js";
import { evaluate, formatMarkdown, formatText, type BenchResults, type BenchSettings, type Machine, type ServerRun } from "./report.js";
import type { SessionRunResult } from "./session-run.js";

const concurrencies = [8, 64] as const;
/** Time for the ping process to start while the load process warms up, before the first ping. */
const pingStartMarginMs = 1_000;
const tsx = ["--import", "tsx"];

function readSettings(): BenchSettings {
  return {
    seconds: positiveNumber("BENCH_SECONDS", 10),
    warmUpSeconds: positiveNumber("BENCH_WARMUP_SECONDS", 2),
    latencyRequests: positiveInteger("BENCH_LATENCY_REQUESTS", 3_000),
    latencyWarmUp: positiveInteger("BENCH_LATENCY_WARMUP", 500),
    sessionCalls: positiveInteger("BENCH_SESSION_CALLS", 20_000),
    pings: positiveInteger("BENCH_PINGS", 300),
  };
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${JSON.stringify(raw)} must be a positive number`);
  return value;
}

function positiveInteger(name: string, fallback: number): number {
  const value = positiveNumber(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name}=${value} must be a whole number`);
  return value;
}

function words(name: string): string[] {
  return (process.env[name] ?? "").split(/\s+/).filter((word) => word !== "");
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Builds dist/ with the local TypeScript, so the toolkit measured is the source in the tree. */
function build(): void {
  if (process.env["BENCH_SKIP_BUILD"] === "1") {
    if (!existsSync(join(repoRoot, "dist/cli.js"))) throw new Error("BENCH_SKIP_BUILD=1 but dist/cli.js is missing: run `npm run build` first");
    progress("BENCH_SKIP_BUILD=1: benching the dist/ already built");
    return;
  }
  progress("building dist/ (tsc -p tsconfig.json)");
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `tsc -p tsconfig.json failed (exit ${result.status}), so dist/ may not match src/:\n${result.stdout}${result.stderr}` +
        "Fix the errors, or set BENCH_SKIP_BUILD=1 to bench the dist/ already built.",
    );
  }
}

function describeMachine(): Machine {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
  const ort = JSON.parse(readFileSync(join(repoRoot, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string };
  return { cpu, cores: availableParallelism(), node: process.version, onnxruntimeNode: ort.version, os: `${process.platform} ${release()}` };
}

function load(mode: "latency" | "throughput" | "ping", url: string, ...numbers: number[]): string[] {
  return [...tsx, "bench/load.ts", mode, url, ...numbers.map(String)];
}

async function measureServer(name: string, settings: BenchSettings, command: (port: string) => string[]): Promise<ServerRun> {
  const port = await freePort();
  progress(`${name}: starting`);
  const server = await startChildServer(command(String(port)), port, "/dev/null");
  try {
    progress(`${name}: ${settings.latencyRequests} sequential requests`);
    const latency = await runNodeForJson<LatencyRun>(load("latency", server.url, settings.latencyRequests, settings.latencyWarmUp));
    const throughput: ThroughputRun[] = [];
    let pingUnderLoad: PingRun | undefined;
    for (const connections of concurrencies) {
      progress(`${name}: c=${connections} for ${settings.warmUpSeconds} + ${settings.seconds} s`);
      const run = runNodeForJson<ThroughputRun>(load("throughput", server.url, connections, settings.seconds, settings.warmUpSeconds));
      if (connections === concurrencies.at(-1)) {
        const delayMs = settings.warmUpSeconds * 1000 + pingStartMarginMs;
        const intervalMs = Math.max(1, (settings.seconds * 1000 - 1.5 * pingStartMarginMs) / settings.pings);
        const ping = runNodeForJson<PingRun>(load("ping", server.url, settings.pings, delayMs, intervalMs));
        const [loaded, pinged] = await Promise.all([run, ping]);
        throughput.push(loaded);
        pingUnderLoad = pinged;
      } else {
        throughput.push(await run);
      }
    }
    return { command: ["node", ...command("<port>")].join(" "), latency, throughput, pingUnderLoad: pingUnderLoad as PingRun };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  const settings = readSettings();
  const toolkitArgs = words("BENCH_TOOLKIT_ARGS");
  const toolkitNodeArgs = words("BENCH_TOOLKIT_NODE_ARGS");
  build();
  const machine = describeMachine();
  progress(`floor: ${settings.sessionCalls} session.run calls`);
  const floor = await runNodeForJson<SessionRunResult>([...tsx, "bench/session-run.ts", String(settings.sessionCalls), "2000"]);
  const minimal = await measureServer("minimal node:http", settings, (port) => [...tsx, "bench/minimal-server.ts", port]);
  const toolkit = await measureServer("toolkit", settings, (port) => [
    ...toolkitNodeArgs,
    "dist/cli.js",
    "serve",
    "--model-dir",
    "examples/iris/model",
    "--port",
    port,
    ...toolkitArgs,
  ]);

  const toolkitEnv = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => /^(SAGEMAKER|BYOC)_/.test(entry[0]) && entry[1] !== undefined),
  );
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine,
    settings,
    toolkitEnv,
    floor,
    minimal,
    toolkit,
    ...evaluate(minimal, toolkit),
  };
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/latest.json"), `${JSON.stringify(results, null, 2)}\n`);

  console.log(`${formatText(results)}\n\nMarkdown, for the README:\n\n${formatMarkdown(results)}\n`);
  progress("results written to bench/results/latest.json");
  if (results.failedRequests === 0 && results.predictionsAgree) return 0;
  progress(`${results.failedRequests} requests failed${results.predictionsAgree ? "" : " and the servers' predictions differ"}: exit 1`);
  return 1;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
