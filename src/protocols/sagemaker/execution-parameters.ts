import type { Express } from "express";
import type { Logger } from "pino";
import { bytesPerPayloadMb, maxPayloadInMbLimit, type ContainerBatchStrategy } from "../../config/batch-settings.js";
import type { ServerConfig } from "../../config/server-config.js";
import { notReadyError, type Readiness } from "../../dispatch/readiness.js";
import type { ModelSignature } from "../../models/model.js";
import { sendError } from "../../http/send-error.js";

/**
 * The answer of `GET /execution-parameters`: what the container suggests for the transform
 * job's parameters the job itself leaves unset (docs/batch.md).
 *
 * @example
 * ```ts
 * const suggested: ExecutionParameters = { MaxConcurrentTransforms: 1, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 6 };
 * ```
 */
export interface ExecutionParameters {
  readonly MaxConcurrentTransforms: number;
  readonly BatchStrategy: ContainerBatchStrategy;
  readonly MaxPayloadInMB: number;
}

/** What the suggestion is worked out from. */
export interface ExecutionParametersOptions {
  /** The user's overrides (`BYOC_EXECUTION_*`). */
  readonly overrides: ServerConfig["batch"]["executionParameters"];
  /** Worker threads: each runs one request at a time. */
  readonly workers: number;
  /** The server's body limit: a larger payload would be refused. */
  readonly maxPayloadBytes: number;
  /** The model's tensors, once it is loaded. */
  readonly signature: () => ModelSignature | undefined;
}

/** SageMaker's own default payload (docs/batch.md). */
const defaultPayloadInMb = 6;

/**
 * The parameters that suit the model, each overridable by its `BYOC_EXECUTION_*` setting:
 * - `MaxConcurrentTransforms`: the worker count (AWS: ideally the number of compute workers);
 * - `BatchStrategy`: `MULTI_RECORD`, or `SINGLE_RECORD` when an input of the model has a fixed
 *   first dimension of 1 (it takes one row per call);
 * - `MaxPayloadInMB`: 6, SageMaker's default, lowered so that it stays within the body limit
 *   and concurrency × payload within SageMaker's 100 MB.
 *
 * @example
 * ```ts
 * suggestExecutionParameters({ overrides: {}, workers: 2, maxPayloadBytes: 6 << 20, signature: () => undefined });
 * // { MaxConcurrentTransforms: 2, BatchStrategy: "MULTI_RECORD", MaxPayloadInMB: 6 }
 * ```
 */
export function suggestExecutionParameters(options: ExecutionParametersOptions): ExecutionParameters {
  const { overrides } = options;
  const bodyLimitInMb = Math.max(1, Math.floor(options.maxPayloadBytes / bytesPerPayloadMb));
  let concurrency = overrides.maxConcurrentTransforms ?? Math.min(options.workers, maxPayloadInMbLimit);
  const payload = overrides.maxPayloadInMb ?? Math.max(1, Math.min(defaultPayloadInMb, bodyLimitInMb, Math.floor(maxPayloadInMbLimit / concurrency)));
  if (overrides.maxConcurrentTransforms === undefined) concurrency = Math.max(1, Math.min(concurrency, Math.floor(maxPayloadInMbLimit / payload)));
  return {
    MaxConcurrentTransforms: concurrency,
    BatchStrategy: overrides.batchStrategy ?? (takesOneRow(options.signature()) ? "SINGLE_RECORD" : "MULTI_RECORD"),
    MaxPayloadInMB: payload,
  };
}

function takesOneRow(signature: ModelSignature | undefined): boolean {
  return signature?.inputs.some((input) => input.shape[0] === 1) ?? false;
}

/**
 * Adds `GET /execution-parameters` (and HEAD) to the Express app: 200 with
 * {@link suggestExecutionParameters} once the model is loaded (the strategy depends on its
 * inputs), 503 like `/ping` before; 405 for other methods.
 *
 * @example
 * ```ts
 * addExecutionParametersRoute(app, { readiness, log, overrides, workers: 2, maxPayloadBytes, signature });
 * ```
 */
export function addExecutionParametersRoute(app: Express, options: ExecutionParametersOptions & { readonly readiness: Readiness; readonly log: Logger }): void {
  const path = "/execution-parameters";
  app.get(path, (_request, response) => {
    if (!options.readiness.ready) {
      sendError(response, notReadyError(options.readiness), "-", options.log);
      return;
    }
    const suggested = suggestExecutionParameters(options);
    options.log.info({ executionParameters: suggested }, "execution parameters suggested");
    response.json(suggested);
  });
  app.all(path, (request, response) => {
    response
      .status(405)
      .set("allow", "GET, HEAD")
      .json({ error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} ${path} is not allowed; use GET` } });
  });
}
