import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { EventStreamCodec } from "@smithy/core/event-streams";
import type { MessageHeaders } from "@smithy/types";
import type { Logger } from "pino";
import type { AsyncConfig } from "../config/async-config.js";
import { InferenceTimeoutError, PayloadTooLargeError } from "../errors.js";
import { readBody } from "../http/read-body.js";
import { headerValue } from "../http/sagemaker-headers.js";
import { isStream, type InvocationRequest } from "../pipeline/inference-pipeline.js";
import { validationError } from "./errors.js";
import type { Invoker } from "./invoker.js";
import { parseRealtimeHeaders } from "./request-headers.js";
import { realtimeMaxBodyBytes, realtimeTimeoutMs, sendApiError, toRealtimeError } from "./runtime-api.js";

/** The AWS SDKs' own event-stream framing (the `application/vnd.amazon.eventstream` encoding). */
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
  (text) => Buffer.from(text, "utf8"),
);

const payloadPartHeaders: MessageHeaders = {
  ":event-type": { type: "string", value: "PayloadPart" },
  ":message-type": { type: "string", value: "event" },
  ":content-type": { type: "string", value: "application/octet-stream" },
};

/**
 * What the InvokeEndpointWithResponseStream route needs.
 *
 * @example
 * ```ts
 * const options: ResponseStreamOptions = { config, invoker, log };
 * ```
 */
export interface ResponseStreamOptions {
  readonly config: Pick<AsyncConfig, "endpointName" | "accountId" | "region" | "variantName">;
  readonly invoker: Invoker;
  readonly log: Logger;
}

/**
 * `POST /endpoints/{name}/invocations-response-stream` (InvokeEndpointWithResponseStream,
 * docs/streaming.md): the request goes to the container's `/invocations` like InvokeEndpoint's,
 * and its answer comes back as it is produced, each chunk one `PayloadPart` event in the AWS
 * event-stream encoding, which the unmodified SDKs read. An error before the answer begins is the
 * API's ordinary error (ModelError carrying the container's status); one after it is a
 * `ModelStreamError` event (`StreamBroken` when the container's answer broke off,
 * `ModelInvocationTimeExceeded` past the time limit), as SageMaker reports them.
 *
 * @example
 * ```ts
 * app.post("/endpoints/:endpointName/invocations-response-stream", (req, res) => streamInvocation(options, req, res));
 * ```
 */
export async function streamInvocation(options: ResponseStreamOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { config, log } = options;
  const headers = parseRealtimeHeaders(request.headers);
  const inferenceId = headers.inferenceId ?? randomUUID();
  const limit = new AbortController();
  const timer = setTimeout(() => limit.abort(new InferenceTimeoutError(`The response stream did not finish within ${realtimeTimeoutMs / 1000} s`)), realtimeTimeoutMs);
  response.once("close", () => {
    if (!response.writableFinished) limit.abort(new Error("Client closed the connection"));
  });
  let started = false;
  try {
    const body = await readBody(request, realtimeMaxBodyBytes, limit.signal).catch((error: unknown) => {
      if (error instanceof PayloadTooLargeError) throw validationError("body", "(payload)", `Member must have length less than or equal to ${realtimeMaxBodyBytes}`);
      throw error;
    });
    const invocation: InvocationRequest = {
      body,
      contentType: headerValue(request.headers, "content-type"),
      // The streaming API carries Accept in its own header.
      accept: headerValue(request.headers, "x-amzn-sagemaker-accept"),
      customAttributes: headers.customAttributes,
      inferenceId,
      targetModel: undefined,
      targetVariant: headerValue(request.headers, "x-amzn-sagemaker-target-variant"),
      sessionId: headerValue(request.headers, "x-amzn-sagemaker-session-id"),
    };
    const result = await options.invoker.invoke(invocation, limit.signal, { stream: true });
    response.statusCode = 200;
    response.setHeader("content-type", "application/vnd.amazon.eventstream");
    response.setHeader("x-amzn-sagemaker-content-type", result.contentType);
    response.setHeader("x-amzn-invoked-production-variant", config.variantName);
    response.setHeader("x-amzn-requestid", randomUUID());
    if (result.customAttributes !== undefined) response.setHeader("x-amzn-sagemaker-custom-attributes", result.customAttributes);
    response.flushHeaders();
    started = true;
    const chunks = isStream(result.body) ? result.body : [result.body];
    for await (const chunk of chunks) {
      limit.signal.throwIfAborted();
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      if (bytes.byteLength === 0) continue;
      if (!response.write(codec.encode({ headers: payloadPartHeaders, body: bytes }))) await drained(response);
    }
    response.end();
  } catch (error) {
    if (!started) {
      sendApiError(response, toRealtimeError(error, config), log);
      return;
    }
    const timedOut = limit.signal.aborted && limit.signal.reason instanceof InferenceTimeoutError;
    log.warn({ inferenceId, reason: (error as Error).message }, "response stream ended by an error");
    if (response.destroyed) return;
    const members = {
      Message: timedOut ? "The model failed to finish sending the response within the time limit." : `The model's response stream broke off: ${(error as Error).message}`,
      ErrorCode: timedOut ? "ModelInvocationTimeExceeded" : "StreamBroken",
    };
    response.end(
      codec.encode({
        headers: {
          ":exception-type": { type: "string", value: "ModelStreamError" },
          ":message-type": { type: "string", value: "exception" },
          ":content-type": { type: "string", value: "application/json" },
        },
        body: Buffer.from(JSON.stringify(members)),
      }),
    );
  } finally {
    clearTimeout(timer);
  }
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off("drain", done).off("close", done);
      resolve();
    };
    response.on("drain", done).on("close", done);
  });
}
