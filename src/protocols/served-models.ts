import type { LoadReport } from "../dispatch/worker-protocol.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";

/**
 * The server's models as the front doors beyond SageMaker's see them (KServe V2, Vertex AI,
 * metrics): which there are, whether each can take requests, what its load reported, and a way to
 * run a request on one. The composition root (`server.ts`) provides it over the worker pool, for
 * one model or many; the front doors know nothing else of the pool.
 *
 * @example
 * ```ts
 * const models: ServedModels = {
 *   names: () => ["iris"],
 *   isReady: (name) => pool.serves(name),
 *   report: (name) => pool.report(name),
 *   invoke: (name, request, signal) => pool.invoke(name, request, signal),
 * };
 * ```
 */
export interface ServedModels {
  /** The models the server serves or is loading, in a stable order. */
  names(): readonly string[];
  /** True while `name` can take requests (false for a name {@link ServedModels.names} does not list). */
  isReady(name: string): boolean;
  /** What loading `name` cost and the tensors it declares, once it has loaded. */
  report(name: string): LoadReport | undefined;
  /** Runs one request on `name`; rejects with `ModelNotReadyError` (503) while it cannot take requests. */
  invoke(name: string, request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult>;
}
