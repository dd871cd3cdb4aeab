/**
 * Where a multi-model load's time goes inside a worker, measured in a fresh process (a heap about
 * the size of a worker thread's): the two full garbage collections that precede the memory
 * measurement, the ONNX session's creation, its warm-up run, and its release at unload.
 * `node --import tsx bench/mme-load-breakdown.ts <model dir> <rounds>` prints one JSON line;
 * bench/mme.bench.ts runs it.
 */
import type { InferenceSession } from "onnxruntime-node";
import { pino } from "pino";
import { collectGarbage } from "../src/models/collect-garbage.js";
import { loadOnnxModels, type OnnxSessions } from "../src/models/onnx/load-models.js";
import { defaultOnnxSessionConfig } from "../src/models/onnx/session-config.js";
import { summarize, type LatencySummary } from "./stats.js";

/**
 * Milliseconds per phase of one load and unload.
 *
 * @example
 * ```ts
 * const breakdown: LoadBreakdown = await runNodeForJson(["--import", "tsx", "bench/mme-load-breakdown.ts", dir, "50"]);
 * ```
 */
export interface LoadBreakdown {
  readonly garbageCollectionMs: LatencySummary;
  readonly sessionMs: LatencySummary;
  readonly warmUpMs: LatencySummary;
  readonly releaseMs: LatencySummary;
}

async function release(sessions: OnnxSessions): Promise<void> {
  const single = typeof (sessions as InferenceSession).run === "function";
  for (const session of single ? [sessions as InferenceSession] : Object.values(sessions as Record<string, InferenceSession>)) await session.release();
}

const [dir = "examples/iris/model", roundsText = "50"] = process.argv.slice(2);
const rounds = Number(roundsText);
const log = pino({ level: "silent" });
const phases = { garbageCollectionMs: [] as number[], sessionMs: [] as number[], warmUpMs: [] as number[], releaseMs: [] as number[] };
for (let round = 0; round < rounds; round++) {
  let started = performance.now();
  collectGarbage();
  phases.garbageCollectionMs.push(performance.now() - started);
  started = performance.now();
  const cold = await loadOnnxModels(dir, { ...defaultOnnxSessionConfig, warmUp: false }, log);
  phases.sessionMs.push(performance.now() - started);
  await release(cold);
  started = performance.now();
  const warm = await loadOnnxModels(dir, defaultOnnxSessionConfig, log);
  // With the warm-up, less the creation measured just before: the warm-up run alone.
  phases.warmUpMs.push(Math.max(0, performance.now() - started - (phases.sessionMs.at(-1) as number)));
  started = performance.now();
  await release(warm);
  phases.releaseMs.push(performance.now() - started);
}
const result: LoadBreakdown = {
  garbageCollectionMs: summarize(phases.garbageCollectionMs),
  sessionMs: summarize(phases.sessionMs),
  warmUpMs: summarize(phases.warmUpMs),
  releaseMs: summarize(phases.releaseMs),
};
console.log(JSON.stringify(result));
