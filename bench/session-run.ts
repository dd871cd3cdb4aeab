/**
 * The floor: `session.run` on the iris model in this process, one single-row call after another,
 * no HTTP. Usage: `node --import tsx bench/session-run.ts <calls> <warm-up calls>`; prints one
 * JSON {@link SessionRunResult} line.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import { summarize, type LatencySummary } from "./stats.js";
import { instance, modelPath, sessionOptions } from "./workload.js";

/**
 * What this script prints.
 *
 * @example
 * ```ts
 * const floor: SessionRunResult = { calls: 20000, callsPerSecond: 95000, latency: summarize(samples) };
 * ```
 */
export interface SessionRunResult {
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly latency: LatencySummary;
}

const [calls = 20_000, warmUpCalls = 2_000] = process.argv.slice(2).map(Number);
const session = await InferenceSession.create(modelPath, sessionOptions);
const feeds = { features: new Tensor("float32", Float32Array.from(instance), [1, instance.length]) };
for (let i = 0; i < warmUpCalls; i++) await session.run(feeds);

const samples = new Float64Array(calls);
const started = performance.now();
for (let i = 0; i < calls; i++) {
  const before = performance.now();
  await session.run(feeds);
  samples[i] = performance.now() - before;
}
const elapsedMs = performance.now() - started;
await session.release();

const result: SessionRunResult = { calls, callsPerSecond: (calls / elapsedMs) * 1000, latency: summarize(samples) };
console.log(JSON.stringify(result));
