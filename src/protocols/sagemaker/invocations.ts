import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Admission } from "../../http/admission.js";
import { clientClosedStatus, serveInvocation, type InvocationOutcome, type InvocationRoute } from "../../http/invocation.js";
import { sendError } from "../../http/send-error.js";
import type { InvocationRequest, InvocationResult, StageTimings } from "../../pipeline/inference-pipeline.js";

/** Runs an invocation on the named model (the data plane in production). */
export type Invoke = (model: string, request: InvocationRequest, signal: AbortSignal) => Promise<InvocationResult>;

/**
 * Told of every answered invocation, with the status it got (499 when the client left first) and
 * its duration: the metrics' hook.
 */
export type InvocationObserver = (outcome: InvocationOutcome, status: number, seconds: number) => void;

/** What the `/invocations` route (and any route that answers the same way) needs. */
export interface InvocationsOptions {
  readonly invoke: Invoke;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly streamIdleMs: number;
  readonly maxPayloadBytes: number;
  /** Shared by every inference route, so the bounds hold for the server as a whole. */
  readonly admission: Admission;
  /** The metrics' hook for a model's answers, made once per model. */
  readonly observe?: ((model: string) => InvocationObserver) | undefined;
}

const inferenceIdPattern = /^[\x21-\x7e]{1,64}$/;
const maxCachedRoutes = 4096;

/**
 * The handler of `POST /invocations` and, on a multi-model endpoint, `POST /models/{name}/invoke`:
 * {@link serveInvocation} on the named model (admission by count and by body bytes, body limit,
 * time limit, the SageMaker headers in and out), and one log line per request. Payloads are never
 * logged.
 *
 * @example
 * ```ts
 * const admission = new Admission({ maxRequests: 256, maxBytes: 256 << 20 });
 * const invocations = createInvocationsHandler({ invoke, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, admission });
 * await invocations(req, res, "model");
 * ```
 */
export function createInvocationsHandler(options: InvocationsOptions) {
  const routes = new Map<string, { readonly route: InvocationRoute; readonly observe: InvocationObserver | undefined }>();
  const routeFor = (model: string): { readonly route: InvocationRoute; readonly observe: InvocationObserver | undefined } => {
    let entry = routes.get(model);
    if (entry === undefined) {
      const route: InvocationRoute = {
        timeoutMs: options.timeoutMs,
        streamIdleMs: options.streamIdleMs,
        maxPayloadBytes: options.maxPayloadBytes,
        admission: options.admission,
        invoke: (request, signal) => options.invoke(model, request, signal),
        sendError: (response, error, inferenceId) => sendError(response, error, inferenceId, options.log),
      };
      entry = { route, observe: options.observe?.(model) };
      // One route per model name, made once; a flood of unknown names must not grow it without end.
      if (routes.size < maxCachedRoutes) routes.set(model, entry);
    }
    return entry;
  };
  return async function invocations(request: IncomingMessage, response: ServerResponse, model: string): Promise<void> {
    const { route, observe } = routeFor(model);
    const started = performance.now();
    const headers = request.headers;
    const inferenceId = requestInferenceId(headers);
    const outcome = await serveInvocation(route, request, response, inferenceId);
    observe?.(outcome, outcome.clientGone ? clientClosedStatus : response.statusCode, (performance.now() - started) / 1000);
    if (outcome.clientGone) {
      options.log.info({ inferenceId }, "client closed the connection before the answer");
      return;
    }
    const logLine = (): void =>
      options.log.info(
        {
          inferenceId,
          status: response.statusCode,
          ms: Math.round((performance.now() - started) * 100) / 100,
          requestBytes: outcome.requestBytes,
          responseBytes: outcome.responseBytes,
          contentType: headers["content-type"],
          accept: headers["accept"],
          ...(outcome.timings === undefined ? {} : roundedTimings(outcome.timings)),
        },
        "invocation",
      );
    if (response.writableFinished) logLine();
    else response.once("finish", logLine);
  };
}

function roundedTimings(timings: StageTimings): StageTimings {
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  const rounded = { queueMs: round(timings.queueMs), decodeMs: round(timings.decodeMs), predictMs: round(timings.predictMs), encodeMs: round(timings.encodeMs) };
  if (timings.stages === undefined) return rounded;
  // A pipeline of stages: each stage that ran, in milliseconds (docs/pipelines.md).
  return { ...rounded, stages: Object.fromEntries(Object.entries(timings.stages).map(([stage, ms]) => [stage, round(ms)])) };
}

/**
 * The request's `X-Amzn-SageMaker-Inference-Id` when it is 1-64 visible ASCII characters, else a
 * new UUID: the id every log line and error message of the request carries.
 *
 * @example
 * ```ts
 * requestInferenceId({ "x-amzn-sagemaker-inference-id": "order-42" }); // "order-42"
 * ```
 */
export function requestInferenceId(headers: IncomingHttpHeaders): string {
  const value = headers["x-amzn-sagemaker-inference-id"];
  return typeof value === "string" && inferenceIdPattern.test(value) ? value : randomUUID();
}
