import type { Failures, LatencyRun, PingRun, ThroughputRun } from "./load.js";
import type { SessionRunResult } from "./session-run.js";

const title = "POST /invocations, one JSON row, examples/iris/model/iris.onnx";

/** The toolkit's performance targets against the minimal `node:http` server. */
const maxP50OverheadMs = 0.1;
const minThroughputShareAtC8 = 0.6;
/** SageMaker times a `/ping` out after 2 s (docs/sagemaker-contract.md). */
const pingLimitMs = 2_000;

/**
 * Where the benchmark ran.
 *
 * @example
 * ```ts
 * const machine: Machine = { cpu: "AMD EPYC", cores: 2, node: "v24.21.0", onnxruntimeNode: "1.30.0", os: "linux 6.8.0" };
 * ```
 */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly onnxruntimeNode: string;
  readonly os: string;
}

/**
 * The run's sizes, from the `BENCH_*` environment variables.
 *
 * @example
 * ```ts
 * const settings: BenchSettings = { seconds: 10, warmUpSeconds: 2, latencyRequests: 3000, latencyWarmUp: 500, sessionCalls: 20000, pings: 300 };
 * ```
 */
export interface BenchSettings {
  /** Each throughput run (`BENCH_SECONDS`). */
  readonly seconds: number;
  /** Warm-up before each throughput run, at the same concurrency (`BENCH_WARMUP_SECONDS`). */
  readonly warmUpSeconds: number;
  /** Sequential requests timed at concurrency 1 (`BENCH_LATENCY_REQUESTS`). */
  readonly latencyRequests: number;
  /** Sequential requests before those (`BENCH_LATENCY_WARMUP`). */
  readonly latencyWarmUp: number;
  /** In-process `session.run` calls timed (`BENCH_SESSION_CALLS`). */
  readonly sessionCalls: number;
  /** Pings during the highest-concurrency run (`BENCH_PINGS`). */
  readonly pings: number;
}

/**
 * Everything measured against one server.
 *
 * @example
 * ```ts
 * const run: ServerRun = { command: "node dist/cli.js serve ...", latency, throughput: [c8, c64], pingUnderLoad };
 * ```
 */
export interface ServerRun {
  readonly command: string;
  /** Sequential requests (concurrency 1). */
  readonly latency: LatencyRun;
  /** One run per concurrency, in increasing order. */
  readonly throughput: readonly ThroughputRun[];
  /** `/ping` sampled while the highest-concurrency throughput run was going. */
  readonly pingUnderLoad: PingRun;
}

/**
 * A target with its verdict.
 *
 * @example
 * ```ts
 * const target: Target = { name: "c=1 p50 overhead", goal: "<= 0.1 ms", measured: "+0.041 ms", pass: true };
 * ```
 */
export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly pass: boolean;
}

/**
 * The toolkit measured against the minimal server.
 *
 * @example
 * ```ts
 * const comparison: Comparison = { p50OverheadMs: 0.04, p99OverheadMs: 0.1, p99Ratio: 1.5, throughputShare: [{ connections: 8, share: 0.62 }] };
 * ```
 */
export interface Comparison {
  /** Toolkit p50 minus minimal p50 at concurrency 1, in ms. */
  readonly p50OverheadMs: number;
  readonly p99OverheadMs: number;
  /** Toolkit p99 / minimal p99 at concurrency 1. */
  readonly p99Ratio: number;
  /** Toolkit req/s / minimal req/s, per concurrency. */
  readonly throughputShare: readonly { readonly connections: number; readonly share: number }[];
}

/**
 * What the benchmark writes to `bench/results/latest.json`.
 *
 * @example
 * ```ts
 * const results: BenchResults = { date, machine, settings, toolkitEnv: {}, floor, minimal, toolkit, ...evaluate(minimal, toolkit) };
 * ```
 */
export interface BenchResults extends Evaluation {
  readonly date: string;
  readonly machine: Machine;
  readonly settings: BenchSettings;
  /** `SAGEMAKER_*` and `BYOC_*` variables the toolkit inherited: empty means its defaults. */
  readonly toolkitEnv: Readonly<Record<string, string>>;
  readonly floor: SessionRunResult;
  readonly minimal: ServerRun;
  readonly toolkit: ServerRun;
}

/**
 * The verdicts of a run.
 *
 * @example
 * ```ts
 * const { targets, failedRequests } = evaluate(minimal, toolkit);
 * ```
 */
export interface Evaluation {
  readonly comparison: Comparison;
  readonly targets: readonly Target[];
  /** Requests (and pings) of both servers that failed, timed out, got a non-2xx or a wrong body. */
  readonly failedRequests: number;
  /** False when the two servers' predictions differ beyond float32 rounding. */
  readonly predictionsAgree: boolean;
}

/**
 * Compares the toolkit with the minimal server and judges the targets.
 *
 * @example
 * ```ts
 * const evaluation = evaluate(minimal, toolkit);
 * if (evaluation.failedRequests > 0) process.exitCode = 1;
 * ```
 */
export function evaluate(minimal: ServerRun, toolkit: ServerRun): Evaluation {
  const comparison: Comparison = {
    p50OverheadMs: toolkit.latency.latency.p50 - minimal.latency.latency.p50,
    p99OverheadMs: toolkit.latency.latency.p99 - minimal.latency.latency.p99,
    p99Ratio: toolkit.latency.latency.p99 / minimal.latency.latency.p99,
    throughputShare: toolkit.throughput.map((run) => ({
      connections: run.connections,
      share: run.requestsPerSecond / (throughputAt(minimal, run.connections)?.requestsPerSecond ?? Number.NaN),
    })),
  };
  const failedRequests = failedIn(minimal) + failedIn(toolkit);
  const predictionsAgree = samePredictions(minimal.latency.sampleBody, toolkit.latency.sampleBody);
  const shareAtC8 = comparison.throughputShare.find((entry) => entry.connections === 8)?.share ?? Number.NaN;
  const ping = toolkit.pingUnderLoad;
  const pingFailures = countFailures(ping.failures);
  const busiest = toolkit.throughput.at(-1)?.connections ?? 0;
  const targets: Target[] = [
    {
      name: "c=1 p50 overhead (toolkit - minimal)",
      goal: `<= ${maxP50OverheadMs} ms`,
      measured: `${signed(comparison.p50OverheadMs)} ms`,
      pass: comparison.p50OverheadMs <= maxP50OverheadMs,
    },
    {
      name: "c=8 throughput (toolkit / minimal)",
      goal: `>= ${percent(minThroughputShareAtC8)}`,
      measured: percent(shareAtC8),
      pass: shareAtC8 >= minThroughputShareAtC8,
    },
    {
      name: `/ping during c=${busiest} load (toolkit)`,
      goal: `every ping 200 within ${pingLimitMs / 1000} s`,
      measured: `p99 ${ms(ping.latency.p99)} ms, max ${ms(ping.latency.max)} ms, ${pingFailures} of ${ping.pings} failed`,
      pass: pingFailures === 0 && ping.latency.max < pingLimitMs,
    },
    {
      name: "requests lost or failed (both servers)",
      goal: "none",
      measured: String(failedRequests),
      pass: failedRequests === 0,
    },
    {
      name: "same predictions from both servers",
      goal: "equal within 1e-6",
      measured: predictionsAgree ? "equal" : `${minimal.latency.sampleBody} vs ${toolkit.latency.sampleBody}`,
      pass: predictionsAgree,
    },
  ];
  return { comparison, targets, failedRequests, predictionsAgree };
}

/**
 * The results as a plain-text report for the terminal.
 *
 * @example
 * ```ts
 * console.log(formatText(results));
 * ```
 */
export function formatText(results: BenchResults): string {
  const [header = [], ...rows] = table(results);
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => (row[column] ?? "").length)));
  const line = (row: readonly string[]): string =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  ");
  return [
    `${title}. ${describeMachine(results)}.`,
    "",
    line(header),
    widths.map((width) => "-".repeat(width)).join("  "),
    ...rows.map(line),
    "",
    floorNote(results),
    `Toolkit: ${results.toolkit.command}${describeEnv(results)}`,
    "",
    ...results.targets.map((target) => `${target.pass ? "PASS" : "FAIL"}  ${target.name}: ${target.measured} (target ${target.goal})`),
  ].join("\n");
}

/**
 * The results as markdown tables to paste in the README.
 *
 * @example
 * ```ts
 * writeFileSync("bench/results/latest.md", formatMarkdown(results));
 * ```
 */
export function formatMarkdown(results: BenchResults): string {
  const row = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  const [header = [], ...rows] = table(results);
  return [
    `${title}. ${describeMachine(results)}; ${results.date.slice(0, 10)}.`,
    "",
    row(header),
    row(header.map((_, column) => (column === 0 ? "---" : "---:"))),
    ...rows.map(row),
    "",
    `${floorNote(results)} Toolkit: \`${results.toolkit.command}\`${describeEnv(results)}.`,
    "",
    row(["target", "goal", "measured", "result"]),
    row(["---", "---", "---", "---"]),
    ...results.targets.map((target) => row([target.name, target.goal, target.measured, target.pass ? "PASS" : "**FAIL**"])),
  ].join("\n");
}

function table(results: BenchResults): string[][] {
  const { floor, minimal, toolkit, comparison } = results;
  const concurrencies = toolkit.throughput.map((run) => run.connections);
  const busiest = concurrencies.at(-1) ?? 0;
  const header = [
    "",
    "c=1 p50 ms",
    "c=1 p99 ms",
    ...concurrencies.flatMap((c) => [`c=${c} req/s`, `c=${c} p99 ms`]),
    `/ping p99 ms at c=${busiest}`,
    "failed",
  ];
  const serverRow = (name: string, run: ServerRun): string[] => [
    name,
    ms(run.latency.latency.p50),
    ms(run.latency.latency.p99),
    ...concurrencies.flatMap((c) => {
      const at = throughputAt(run, c);
      return at === undefined ? ["–", "–"] : [integer(at.requestsPerSecond), ms(at.latency.p99)];
    }),
    ms(run.pingUnderLoad.latency.p99),
    String(failedIn(run)),
  ];
  const versus = [
    "toolkit vs minimal",
    `${signed(comparison.p50OverheadMs)}`,
    `${signed(comparison.p99OverheadMs)} (x${comparison.p99Ratio.toFixed(2)})`,
    ...concurrencies.flatMap((c) => {
      const share = comparison.throughputShare.find((entry) => entry.connections === c)?.share ?? Number.NaN;
      const p99 = (throughputAt(toolkit, c)?.latency.p99 ?? Number.NaN) / (throughputAt(minimal, c)?.latency.p99 ?? Number.NaN);
      return [percent(share), `x${p99.toFixed(2)}`];
    }),
    "",
    "",
  ];
  const floorRow = ["session.run in process (floor)", ms(floor.latency.p50), ms(floor.latency.p99), ...concurrencies.flatMap(() => ["–", "–"]), "–", "–"];
  return [header, floorRow, serverRow("minimal node:http", minimal), serverRow("toolkit", toolkit), versus];
}

function floorNote(results: BenchResults): string {
  const { floor } = results;
  return `Floor: ${integer(floor.calls)} sequential session.run calls, ${integer(floor.callsPerSecond)} calls/s on one thread.`;
}

function describeMachine({ machine }: BenchResults): string {
  return `${machine.cpu} (${machine.cores} cores), ${machine.os}, Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}`;
}

function describeEnv({ toolkitEnv }: BenchResults): string {
  const entries = Object.entries(toolkitEnv);
  return entries.length === 0 ? " (default settings)" : ` with ${entries.map(([name, value]) => `${name}=${value}`).join(" ")}`;
}

function throughputAt(run: ServerRun, connections: number): ThroughputRun | undefined {
  return run.throughput.find((entry) => entry.connections === connections);
}

function countFailures(failures: Failures): number {
  return failures.errors + failures.timeouts + failures.non2xx + failures.mismatches;
}

function failedIn(run: ServerRun): number {
  return (
    countFailures(run.latency.failures) +
    run.throughput.reduce((sum, entry) => sum + countFailures(entry.failures), 0) +
    countFailures(run.pingUnderLoad.failures)
  );
}

function samePredictions(a: string, b: string): boolean {
  const rows = (body: string): number[] => (JSON.parse(body) as { predictions: number[][] }).predictions.flat();
  const left = rows(a);
  const right = rows(b);
  return left.length === right.length && left.every((value, index) => Math.abs(value - (right[index] ?? Number.NaN)) <= 1e-6);
}

function ms(value: number): string {
  return value.toFixed(3);
}

function signed(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(3)}`;
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function integer(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}
