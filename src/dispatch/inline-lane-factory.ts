import type { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import type { ModelSource } from "../models/model-source.js";
import { isOnnxSession, isOnnxSessions, zeroFeeds } from "../models/onnx/load-models.js";
import { InlineLane, inlineCandidate, type InlineCopy } from "./inline-lane.js";
import { ModelRuntime } from "./model-runtime.js";
import type { InlineLaneFactory } from "./single-model.js";
import type { WorkerPool } from "./worker-pool.js";
import type { RuntimeConfig } from "./worker-protocol.js";

/** Runs on zero-filled inputs before the timed ones (the first runs of a session are slower), and timed ones. */
const untimedRuns = 16;
const timedRuns = 32;

/**
 * Gives a model that may run on the HTTP thread ({@link inlineCandidate}) an inline lane. Its copy
 * of the model is loaded on this thread with the workers' settings, unbatched (the lane runs one
 * request at a time), and timed on zero-filled inputs.
 *
 * @example
 * ```ts
 * const plane = new SingleModel(pool, "model", log, { inlineLane: inlineLaneFactory(pool, runtimeConfig, log) });
 * ```
 */
export function inlineLaneFactory(pool: WorkerPool, config: RuntimeConfig, log: Logger): InlineLaneFactory {
  return (source: ModelSource, report) => {
    if (!inlineCandidate(source, report, config.onnx)) return undefined;
    const copyConfig: RuntimeConfig = { ...config, batching: { ...config.batching, maxBatchSize: 1 } };
    return new InlineLane({
      model: source.name,
      log,
      workersIdle: () => pool.pendingFor(source.name) === 0,
      toWorkers: (request, signal) => pool.invoke(source.name, request, signal),
      loadCopy: () => loadTimedCopy(source, copyConfig, log.child({ thread: "http" })),
    });
  };
}

async function loadTimedCopy(source: ModelSource, config: RuntimeConfig, log: Logger): Promise<InlineCopy> {
  const runtime = new ModelRuntime({ workerId: -1, config, log });
  await runtime.load(source);
  try {
    const value = runtime.valueOf(source.name);
    if (!isOnnxSessions(value)) throw new Error("the model's value is not ONNX sessions");
    const sessions = isOnnxSession(value) ? [value] : Object.values(value);
    let runMs = 0;
    for (const session of sessions) runMs = Math.max(runMs, await medianRunMs(session));
    return { runtime, runMs };
  } catch (error) {
    await runtime.releaseAll();
    throw error;
  }
}

async function medianRunMs(session: InferenceSession): Promise<number> {
  const feeds = zeroFeeds(session);
  for (let run = 0; run < untimedRuns; run++) await session.run(feeds);
  const times: number[] = [];
  for (let run = 0; run < timedRuns; run++) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  return times.toSorted((a, b) => a - b)[timedRuns / 2] as number;
}
