/**
 * Warm throughput of a multi-model endpoint against a single-model one, on a machine other work
 * may share (bench/mme.bench.ts). The paths are compared in pairs (multi-model, single-model),
 * each run by the load generator in a process of its own (bench/mme-load.ts):
 *
 * - first every path gets a warm-up run, not counted: the processes have just served the cold
 *   invokes of the Zipf traffic, and their first seconds of warm traffic cost more (a heap grown
 *   by the loads, code optimised for them);
 * - then `rounds` rounds, each running both paths of every pair back to back, the multi-model one
 *   first in even rounds and second in odd ones, so that a change in the machine's load hits
 *   both alike. A pair's ratio is the median of its rounds' ratios; a path's throughput the
 *   median of its rounds.
 */
import { availableParallelism } from "node:os";
import { runNodeForJson } from "./processes.js";
import { median } from "./stats.js";
import type { MmeLoadOptions, MmeLoadRun } from "./mme-load.js";

/**
 * One way to send the benchmark's requests: where, and which processes' CPU to read.
 *
 * @example
 * ```ts
 * const path: ThroughputPath = { url: container.url, targets: [{ path: "/invocations" }], pids: { container: container.pid, gateway: process.pid } };
 * ```
 */
export interface ThroughputPath {
  readonly url: string;
  readonly targets: MmeLoadOptions["targets"];
  readonly pids: MmeLoadOptions["pids"];
  /** The container's `/metrics`, read before and after each run for its dynamic batching (requests per ONNX run). */
  readonly metricsUrl: string;
}

/**
 * A path's measured runs.
 *
 * @example
 * ```ts
 * const result: PathThroughput = measured.pairs[0].multiModel;
 * result.requestsPerSecond; // the median of the rounds
 * ```
 */
export interface PathThroughput {
  readonly runs: readonly MmeLoadRun[];
  /** The median of the rounds. */
  readonly requestsPerSecond: number;
  /** Failed requests in its runs, the warm-up's included. */
  readonly errors: number;
  /** CPU time per answered request over all its rounds, by process, in microseconds. */
  readonly cpuUsPerRequest: Readonly<Record<string, number>>;
  /** Requests per ONNX run on the workers over its rounds (dynamic batching merges the requests of one model waiting together). */
  readonly requestsPerRun: number;
}

/**
 * A pair's result.
 *
 * @example
 * ```ts
 * const { multiModel, singleModel, ratio } = measured.pairs[0];
 * ```
 */
export interface PairThroughput {
  readonly multiModel: PathThroughput;
  readonly singleModel: PathThroughput;
  /** The median over the rounds of multi-model ÷ single-model requests per second. */
  readonly ratio: number;
  /** Each round's ratio, in order. */
  readonly roundRatios: readonly number[];
}

/**
 * Every pair's result, and how the machine's CPU time was spent during the measured runs.
 *
 * @example
 * ```ts
 * const measured: MeasuredThroughput = await measureThroughputPairs(pairs, options);
 * ```
 */
export interface MeasuredThroughput {
  readonly pairs: readonly PairThroughput[];
  /** Of the machine's CPU time (all cores) during the measured runs: the processes measured, the rest of the machine, idle. */
  readonly machineShare: { readonly measured: number; readonly others: number; readonly idle: number };
}

/**
 * How to run the pairs.
 *
 * @example
 * ```ts
 * const options: ThroughputOptions = { rounds: 3, seconds: 2, warmUpSeconds: 3, connections: 8, body, contentType: "application/json" };
 * ```
 */
export interface ThroughputOptions {
  readonly rounds: number;
  readonly seconds: number;
  /** The unmeasured run each path gets before the rounds. */
  readonly warmUpSeconds: number;
  readonly connections: number;
  readonly body: string;
  readonly contentType: string;
}

/** The run's own warm-up, inside each load generator, before its measured seconds. */
const runWarmUpSeconds = 1;

/** Runs of batched models on the workers, and the requests they served, so far: the container's `byoc_batch_size_requests` histogram, all models together. */
async function batchedRuns(metricsUrl: string): Promise<{ runs: number; requests: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const total = (series: string): number =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`byoc_batch_size_requests_${series}`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return { runs: total("count"), requests: total("sum") };
}

function summarizePath(runs: readonly MmeLoadRun[], warmUpErrors: number, batched: { runs: number; requests: number }): PathThroughput {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  const cpuMs: Record<string, number> = {};
  for (const run of runs) for (const [name, ms] of Object.entries(run.cpuMs)) cpuMs[name] = (cpuMs[name] ?? 0) + ms;
  return {
    runs,
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    errors: warmUpErrors + runs.reduce((sum, run) => sum + run.errors, 0),
    cpuUsPerRequest: Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, (ms * 1000) / Math.max(1, requests)])),
    requestsPerRun: batched.requests / batched.runs,
  };
}

/**
 * Runs each pair (multi-model path, single-model path) as the module's comment says.
 *
 * @example
 * ```ts
 * const measured = await measureThroughputPairs([[mmeThroughGateway, singleThroughGateway]], { rounds: 3, seconds: 2, warmUpSeconds: 3, connections: 8, body, contentType: "application/json" });
 * ```
 */
export async function measureThroughputPairs(pairs: readonly (readonly [ThroughputPath, ThroughputPath])[], options: ThroughputOptions): Promise<MeasuredThroughput> {
  const run = (path: ThroughputPath, seconds: number, warmUpSeconds: number): Promise<MmeLoadRun> => {
    const load: MmeLoadOptions = { url: path.url, targets: path.targets, pids: path.pids, body: options.body, contentType: options.contentType, connections: options.connections, seconds, warmUpSeconds };
    return runNodeForJson<MmeLoadRun>(["--import", "tsx", "bench/mme-load.ts", JSON.stringify(load)]);
  };
  const warmUpErrors = new Map<ThroughputPath, number>();
  for (const pair of pairs) for (const path of pair) warmUpErrors.set(path, (await run(path, options.warmUpSeconds, 0)).errors);
  const runs = new Map<ThroughputPath, MmeLoadRun[]>(pairs.flatMap((pair) => pair.map((path) => [path, []] as const)));
  const batched = new Map<ThroughputPath, { runs: number; requests: number }>(pairs.flatMap((pair) => pair.map((path) => [path, { runs: 0, requests: 0 }] as const)));
  for (let round = 0; round < options.rounds; round++) {
    for (const pair of pairs) {
      for (const path of round % 2 === 0 ? pair : [pair[1], pair[0]]) {
        const before = await batchedRuns(path.metricsUrl);
        runs.get(path)?.push(await run(path, options.seconds, runWarmUpSeconds));
        const after = await batchedRuns(path.metricsUrl);
        const total = batched.get(path) as { runs: number; requests: number };
        total.runs += after.runs - before.runs;
        total.requests += after.requests - before.requests;
      }
    }
  }
  const all = [...runs.values()].flat();
  const capacityMs = availableParallelism() * all.reduce((sum, measured) => sum + measured.seconds * 1000, 0);
  const machineMs = all.reduce((sum, measured) => sum + measured.machineCpuMs, 0);
  const measuredMs = all.reduce((sum, measured) => sum + Object.values(measured.cpuMs).reduce((total, ms) => total + ms, 0), 0);
  return {
    pairs: pairs.map(([multi, single]) => {
      const multiRuns = runs.get(multi) ?? [];
      const singleRuns = runs.get(single) ?? [];
      const roundRatios = multiRuns.map((measured, round) => measured.requestsPerSecond / (singleRuns[round]?.requestsPerSecond ?? Number.NaN));
      return {
        multiModel: summarizePath(multiRuns, warmUpErrors.get(multi) ?? 0, batched.get(multi) ?? { runs: 0, requests: 0 }),
        singleModel: summarizePath(singleRuns, warmUpErrors.get(single) ?? 0, batched.get(single) ?? { runs: 0, requests: 0 }),
        ratio: median(roundRatios),
        roundRatios,
      };
    }),
    machineShare: {
      measured: measuredMs / capacityMs,
      others: Math.max(0, machineMs - measuredMs) / capacityMs,
      idle: Math.max(0, capacityMs - machineMs) / capacityMs,
    },
  };
}
