import type { Logger } from "pino";
import type { ModelSource } from "../models/model-source.js";
import { InlineLane, inlineCandidate } from "./inline-lane.js";
import { ModelRuntime } from "./model-runtime.js";
import type { InlineLaneFactory } from "./single-model.js";
import type { WorkerPool } from "./worker-pool.js";
import type { RuntimeConfig } from "./worker-protocol.js";

/**
 * Gives a model that may run on the HTTP thread ({@link inlineCandidate}) an inline lane whose
 * copy of the model is loaded on this thread with the workers' settings, unbatched: the lane
 * runs one request at a time.
 *
 * @example
 * ```ts
 * const plane = new SingleModel(pool, "model", log, { inlineLane: inlineLaneFactory(pool, runtimeConfig, log) });
 * ```
 */
export function inlineLaneFactory(pool: WorkerPool, config: RuntimeConfig, log: Logger): InlineLaneFactory {
  return (source: ModelSource, report) => {
    if (!inlineCandidate(source, report, config.onnx)) return undefined;
    const threadLog = log.child({ thread: "http" });
    return new InlineLane({
      model: source.name,
      log,
      toWorkers: (request, signal) => pool.invoke(source.name, request, signal),
      loadRuntime: async () => {
        const runtime = new ModelRuntime({ workerId: -1, config: { ...config, batching: { ...config.batching, maxBatchSize: 1 } }, log: threadLog });
        await runtime.load(source);
        return runtime;
      },
    });
  };
}
