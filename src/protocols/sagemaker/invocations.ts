import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { Admission } from "../../http/admission.js";
import { serveInvocation, type InvocationRoute } from "../../http/invocation.js";
import { sendError } from "../../http/send-error.js";
import type { InvocationRequest, InvocationResult, StageTimings } from "../../pipeline/inference-pipeline.js";

/** Runs an invocation on the named model (the data plane in production). */
export type Invoke = (model: string, request: InvocationRequest, signal: AbortSignal) => Promise<InvocationResult>;

/** What the `/invocations` route needs. */
export interface InvocationsOptions {
  readonly invoke: Invoke;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxConcurrentRequests: number;
  readonly maxInFlightBytes: number;
}

const inferenceIdPattern = /^[\x21-\x7e]{1,64}$/;
const maxCachedRoutes = 4096;

/**
 * The handler of `POST /invocations` and, on a multi-model endpoint, `POST /models/{name}/invoke`:
 * {@link serveInvocation} on the named model (admission by count and by body bytes, shared by both,
 * body limit, time limit, the SageMaker headers in and out), and one log line per request.
 * Payloads are never logged.
 *
 * @example
 * ```ts
 * const invocations = createInvocationsHandler({ invoke, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256, maxInFlightBytes: 256 << 20 });
 * await invocations(req, res, "model");
 * ```
 */
export function createInvocationsHandler(options: InvocationsOptions) {
  const admission = new Admission({ maxRequests: options.maxConcurrentRequests, maxBytes: options.maxInFlightBytes });
  const routes = new Map<string, InvocationRoute>();
  const routeFor = (model: string): InvocationRoute => {
    let route = routes.get(model);
    if (route === undefined) {
      route = {
        timeoutMs: options.timeoutMs,
        maxPayloadBytes: options.maxPayloadBytes,
        admission,
        invoke: (request, signal) => options.invoke(model, request, signal),
        sendError: (response, error, inferenceId) => sendError(response, error, inferenceId, options.log),
      };
      // One route per model name, made once; a flood of unknown names must not grow it without end.
      if (routes.size < maxCachedRoutes) routes.set(model, route);
    }
    return route;
  };
  return async function invocations(request: IncomingMessage, response: ServerResponse, model: string): Promise<void> {
    const route = routeFor(model);
    const started = performance.now();
    const headers = request.headers;
    const inferenceId = validInferenceId(headers["x-amzn-sagemaker-inference-id"]) ?? randomUUID();
    const outcome = await serveInvocation(route, request, response, inferenceId);
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
  return { queueMs: round(timings.queueMs), decodeMs: round(timings.decodeMs), predictMs: round(timings.predictMs), encodeMs: round(timings.encodeMs) };
}

function validInferenceId(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && inferenceIdPattern.test(value) ? value : undefined;
}
