import { defaultConfig } from "../../src/config/server-config.js";
import type { RuntimeConfig } from "../../src/dispatch/worker-protocol.js";

/**
 * What a worker pool or model runtime started by a test runs with: the server's defaults, silent,
 * JSON by default, one intra-op thread and no batching unless `overrides` say otherwise.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ size: 1, log, recycleMs: 5_000, setup: { config: testRuntimeConfig(), primeOnnxRuntime: false } });
 * ```
 */
export function testRuntimeConfig(overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  return {
    logLevel: "silent",
    defaultAccept: "application/json",
    defaultContentType: "application/json",
    onnx: { ...defaultConfig.onnx, intraOpNumThreads: 1 },
    multipart: defaultConfig.multipart,
    batching: { maxBatchSize: 1, maxDelayMs: 0 },
    ...overrides,
  };
}
