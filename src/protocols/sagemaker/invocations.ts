import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { InferenceTimeoutError, OverloadedError } from "../../errors.js";
import type { InvocationRequest, InvocationResult } from "../../pipeline/inference-pipeline.js";
import { readBody } from "../../http/read-body.js";
import { sendError } from "../../http/send-error.js";

/** Runs an invocation somewhere (the worker pool in production). */
export type Invoke = (request: InvocationRequest, signal: AbortSignal) => Promise<InvocationResult>;

/** What the `/invocations` route needs. */
export interface InvocationsOptions {
  readonly invoke: Invoke;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxConcurrentRequests: number;
}

const inferenceIdPattern = /^[\x21-\x7e]{1,64}$/;

/**
 * The `POST /invocations` handler: admission control, body limit, time limit, the SageMaker
 * headers in and out, and one log line per request. Payloads are never logged.
 *
 * @example
 * ```ts
 * app.post("/invocations", createInvocationsHandler({ invoke, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256 }));
 * ```
 */
export function createInvocationsHandler(options: InvocationsOptions) {
  let inFlight = 0;
  return async function invocations(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const headers = request.headers;
    const inferenceId = validInferenceId(headers["x-amzn-sagemaker-inference-id"]) ?? randomUUID();
    let requestBytes = 0;
    let responseBytes = 0;
    response.once("finish", () => {
      options.log.info(
        {
          inferenceId,
          status: response.statusCode,
          ms: Math.round((performance.now() - started) * 100) / 100,
          requestBytes,
          responseBytes,
          contentType: headers["content-type"],
          accept: headers["accept"],
        },
        "invocation",
      );
    });
    if (inFlight >= options.maxConcurrentRequests) {
      sendError(response, new OverloadedError(`More than ${options.maxConcurrentRequests} requests in flight; retry shortly`), inferenceId, options.log);
      return;
    }
    inFlight++;
    // One controller per request: the time limit and a vanished client both abort it, each with its own reason.
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new InferenceTimeoutError(`Inference did not finish within ${options.timeoutMs / 1000} s`)),
      options.timeoutMs,
    );
    // The reason is built only when needed: a DOMException captures a stack trace, which cost
    // about 10% of the main thread's time per request when made up front.
    let clientGone = false;
    response.once("close", () => {
      if (response.writableFinished) return;
      clientGone = true;
      abort.abort(new DOMException("Client closed the connection", "AbortError"));
    });
    try {
      const body = await readBody(request, options.maxPayloadBytes, abort.signal);
      requestBytes = body.length;
      const result = await options.invoke(
        {
          body,
          contentType: headers["content-type"],
          accept: headers["accept"],
          customAttributes: headers["x-amzn-sagemaker-custom-attributes"] as string | undefined,
          inferenceId,
          targetModel: headers["x-amzn-sagemaker-target-model"] as string | undefined,
          targetVariant: headers["x-amzn-sagemaker-target-variant"] as string | undefined,
          sessionId: headers["x-amzn-sagemaker-session-id"] as string | undefined,
        },
        abort.signal,
      );
      // A string body goes out as is: Node then writes headers and body in one call, where a
      // Buffer costs a writev.
      responseBytes = typeof result.body === "string" ? Buffer.byteLength(result.body) : result.body.byteLength;
      response.statusCode = 200;
      response.setHeader("content-type", result.contentType);
      response.setHeader("content-length", responseBytes);
      if (result.customAttributes !== undefined) response.setHeader("x-amzn-sagemaker-custom-attributes", result.customAttributes);
      response.end(result.body);
    } catch (error) {
      if (clientGone) {
        options.log.info({ inferenceId }, "client closed the connection before the answer");
        return;
      }
      sendError(response, error, inferenceId, options.log);
    } finally {
      clearTimeout(timer);
      inFlight--;
    }
  };
}

function validInferenceId(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && inferenceIdPattern.test(value) ? value : undefined;
}
