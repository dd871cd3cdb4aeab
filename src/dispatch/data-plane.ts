import type { ModelSignature } from "../models/model.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import type { Readiness } from "./readiness.js";
import type { LoadReport } from "./worker-protocol.js";
import type { InvokeOptions } from "./worker-pool.js";

/**
 * One model as the front doors see it.
 *
 * @example
 * ```ts
 * const status: ModelStatus = { name: "model", ready: true, signature: undefined };
 * ```
 */
export interface ModelStatus {
  readonly name: string;
  /** Loaded and taking requests. */
  readonly ready: boolean;
  /** Its tensors, when it declares them (ONNX sessions do). */
  readonly signature: ModelSignature | undefined;
}

/**
 * Where every front door (SageMaker's `/invocations` and `/models`, KServe V2, Vertex AI, the async
 * worker, metrics) meets the models, whether the server hosts one model or many: readiness, the
 * models it can address by name, what each load reported, and one way to run a request on one of
 * them. The front doors know nothing else of the worker pool.
 *
 * @example
 * ```ts
 * const result = await plane.invoke("model", request, signal);
 * ```
 */
export interface DataPlane {
  /** What `/ping` reports. */
  readonly readiness: Readiness;
  /** The models loaded or loading, by name. */
  models(): readonly ModelStatus[];
  model(name: string): ModelStatus | undefined;
  /** What loading `name` cost (time, memory) and the tensors it declares, once it has loaded. */
  report(name: string): LoadReport | undefined;
  /** Runs `request` on the model `name`; rejects with the handlers' error, or a 404/503 when the model cannot take it. */
  invoke(name: string, request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult>;
}
