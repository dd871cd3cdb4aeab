import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { InferenceTimeoutError, isInferenceError, PayloadTooLargeError } from "../errors.js";
import { serveInvocation, type InvocationRoute } from "../http/invocation.js";
import { lingerAfterAnswer } from "../http/lingering-close.js";
import { readBody } from "../http/read-body.js";
import type { AsyncConfig } from "../config/async-config.js";
import {
  inlineBodyRefused,
  InvokerUnavailableError,
  ModelDataInvalidError,
  ModelDataNotFoundError,
  ModelDataUnavailableError,
  ModelInvocationError,
  ModelStillLoadingError,
  RuntimeApiError,
  validationError,
} from "./errors.js";
import type { Invoker } from "./invoker.js";
import { asyncRequestStatuses, publicView, type AsyncRequestRecord, type AsyncRequestStatus, type DurableQueue } from "./async/queue.js";
import { parseAsyncInvocation, parseRealtimeHeaders, type AsyncInvocationInput } from "./request-headers.js";
import { streamInvocation } from "./response-stream.js";
import { joinS3Path } from "./async/s3-location.js";
import type { MultiModelEndpoint } from "./multi-model/multi-model-endpoint.js";

/**
 * What the gateway needs.
 *
 * @example
 * ```ts
 * const options: GatewayOptions = { config, queue, invoker, log, onQueued: () => worker.wake(), now: Date.now };
 * ```
 */
export interface GatewayOptions {
  readonly config: Pick<
    AsyncConfig,
    | "endpointName"
    | "accountId"
    | "region"
    | "variantName"
    | "s3OutputPath"
    | "s3FailurePath"
    | "defaultRequestTtlSeconds"
    | "defaultInvocationTimeoutSeconds"
    | "maxQueuedRequests"
  >;
  readonly queue: DurableQueue;
  readonly invoker: Invoker;
  /**
   * The multi-model front end, when the endpoint is one: InvokeEndpoint then requires a
   * TargetModel and goes through it (docs/multi-model.md, "Local gateway").
   */
  readonly multiModel?: MultiModelEndpoint | undefined;
  readonly log: Logger;
  /** Called after a request was queued durably. */
  readonly onQueued: () => void;
  readonly now: () => number;
}

/** SageMaker's real-time limits (docs/sagemaker-contract.md): 6 MiB bodies, 60 s answers. */
export const realtimeMaxBodyBytes = 6 * 1024 * 1024;
export const realtimeTimeoutMs = 60_000;
/** Async requests carry their payload in S3; their body must be empty, so read little. */
const asyncMaxBodyBytes = 64 * 1024;

/**
 * The local SageMaker Runtime: `POST /endpoints/{name}/invocations` (InvokeEndpoint) and
 * `POST /endpoints/{name}/async-invocations` (InvokeEndpointAsync) with the real header names,
 * limits, responses and restJson1 errors, so the unmodified AWS SDKs, boto3 and aws-cli work
 * against it with an endpoint override; plus `GET /async-requests[/{id}]` to inspect the queue.
 * It does not check SigV4 signatures: keep it on a trusted network.
 *
 * @example
 * ```ts
 * const app = createGatewayApp({ config, queue, invoker, log, onQueued: () => worker.wake(), now: Date.now });
 * app.listen(8081);
 * ```
 */
export function createGatewayApp(options: GatewayOptions): Express {
  const { config, log } = options;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");

  const endpoint = (request: Request): void => {
    const name = request.params["endpointName"] as string;
    if (name !== config.endpointName) throw new RuntimeApiError("ValidationError", 400, `Endpoint ${name} of account ${config.accountId} not found.`);
  };

  const { multiModel } = options;
  const realtime: InvocationRoute = {
    timeoutMs: realtimeTimeoutMs,
    streamIdleMs: realtimeTimeoutMs,
    maxPayloadBytes: realtimeMaxBodyBytes,
    invoke: (request, signal) =>
      multiModel !== undefined && request.targetModel !== undefined
        ? multiModel.invoke({ ...request, targetModel: request.targetModel }, signal)
        : options.invoker.invoke(request, signal),
    sendError: (response, error) => sendApiError(response, toRealtimeError(error, config), log),
    resultHeaders: () => ({ "x-amzn-invoked-production-variant": config.variantName, "x-amzn-requestid": randomUUID() }),
  };

  app.post("/endpoints/:endpointName/invocations", async (request, response) => {
    endpoint(request);
    const headers = parseRealtimeHeaders(request.headers);
    const inferenceId = headers.inferenceId ?? randomUUID();
    // The service's own wording for these two (docs/multi-model.md, "Local gateway").
    if (multiModel === undefined && headers.targetModel !== undefined) {
      throw new RuntimeApiError("ValidationError", 400, `Endpoint ${config.endpointName} is not a multi-model endpoint and does not support target model header.`);
    }
    if (multiModel !== undefined && headers.targetModel === undefined) {
      throw new RuntimeApiError("ValidationError", 400, `Request ${inferenceId} is missing a target model header: ${config.endpointName} is a multi-model endpoint; pass TargetModel.`);
    }
    await serveInvocation(realtime, request, response, inferenceId);
  });

  app.post("/endpoints/:endpointName/invocations-response-stream", async (request, response) => {
    endpoint(request);
    await streamInvocation({ config, invoker: options.invoker, log }, request, response);
  });

  /** Accepts under way, by inference id: a repeat arriving meanwhile gets the first one's answer. */
  const accepting = new Map<string, Promise<AsyncRequestRecord>>();

  app.post("/endpoints/:endpointName/async-invocations", async (request, response) => {
    endpoint(request);
    const { s3OutputPath } = config;
    if (s3OutputPath === undefined) {
      throw new RuntimeApiError(
        "ValidationError",
        400,
        `Endpoint ${config.endpointName} is a multi-model endpoint: InvokeEndpointAsync takes no TargetModel, and this gateway has no S3OutputPath; use InvokeEndpoint.`,
      );
    }
    const body = await readBody(request, asyncMaxBodyBytes).catch((error: unknown) => {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      lingerAfterAnswer(request, response);
      throw inlineBodyRefused(`more than ${asyncMaxBodyBytes} bytes`);
    });
    const input = parseAsyncInvocation(
      request.headers,
      { requestTtlSeconds: config.defaultRequestTtlSeconds, invocationTimeoutSeconds: config.defaultInvocationTimeoutSeconds },
      body.byteLength,
    );
    const record = await accept(options, s3OutputPath, input, accepting);
    response.status(202);
    response.setHeader("x-amzn-requestid", randomUUID());
    response.setHeader("x-amzn-sagemaker-outputlocation", record.outputLocation);
    if (record.failureLocation !== undefined) response.setHeader("x-amzn-sagemaker-failurelocation", record.failureLocation);
    response.json({ InferenceId: record.inferenceId });
  });

  app.get("/async-requests", (request, response) => {
    const wanted = typeof request.query["status"] === "string" ? request.query["status"].split(",") : undefined;
    const unknown = wanted?.filter((status) => !asyncRequestStatuses.includes(status as AsyncRequestStatus)) ?? [];
    if (unknown.length > 0) {
      response.status(400).json({ error: { code: "BAD_REQUEST", message: `Unknown status ${unknown.join(", ")}; use ${asyncRequestStatuses.join(", ")}` } });
      return;
    }
    const records = options.queue.list(wanted as AsyncRequestStatus[] | undefined);
    response.json({ requests: records.map(publicView) });
  });

  app.get("/async-requests/:inferenceId", (request, response) => {
    const record = options.queue.get(request.params.inferenceId);
    if (record === undefined) {
      response.status(404).json({ error: { code: "NOT_FOUND", message: `No async request with inference id ${request.params.inferenceId}` } });
      return;
    }
    response.json(publicView(record));
  });

  app.get("/ping", (_request, response) => {
    response.json({ status: "ready", endpointName: config.endpointName, invoker: options.invoker.target });
  });

  app.use((request, _response, next) => {
    next(new RuntimeApiError("UnknownOperationException", 404, `No operation for ${request.method} ${request.path}`));
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    sendApiError(response, error, log);
  });
  return app;
}

/**
 * Queues a request, or answers a repeat of one: the same inference id with the same parameters
 * gets the same 202 and locations and runs once (idempotency, a choice: the real service's
 * behaviour is unconfirmed); the same id with other parameters (the TTL and the invocation
 * timeout included) is a ValidationError. The 202 comes only once the record is on disk: when
 * the write fails, the request (and a repeat that arrived meanwhile) gets an InternalFailure and
 * nothing is queued, so a retry of the client starts afresh. A new request beyond
 * `maxQueuedRequests` queued or running is a ServiceUnavailable (503); a repeat is still answered.
 */
async function accept(
  options: GatewayOptions,
  s3OutputPath: string,
  input: AsyncInvocationInput,
  accepting: Map<string, Promise<AsyncRequestRecord>>,
): Promise<AsyncRequestRecord> {
  const { config, queue } = options;
  const first = accepting.get(input.inferenceId) ?? queue.get(input.inferenceId);
  if (first !== undefined) return answerRepeat(options, input, await first);
  const waiting = queue.count(["queued", "running"]) + accepting.size;
  if (waiting >= config.maxQueuedRequests) {
    // ServiceUnavailable (503) is an error the AWS SDKs retry with backoff on their own.
    throw new RuntimeApiError(
      "ServiceUnavailable",
      503,
      `The endpoint's queue is full: ${waiting} requests are queued or running (BYOC_ASYNC_MAX_QUEUED_REQUESTS=${config.maxQueuedRequests}). Retry later.`,
    );
  }
  const record: AsyncRequestRecord = {
    inferenceId: input.inferenceId,
    endpointName: config.endpointName,
    status: "queued",
    receivedTime: new Date(options.now()).toISOString(),
    inputLocation: input.inputLocation,
    outputLocation: joinS3Path(s3OutputPath, `${input.inferenceId}.out`),
    failureLocation: config.s3FailurePath === undefined ? undefined : joinS3Path(config.s3FailurePath, `${input.inferenceId}-error.out`),
    contentType: input.contentType,
    accept: input.accept,
    customAttributes: input.customAttributes,
    requestTtlSeconds: input.requestTtlSeconds,
    invocationTimeoutSeconds: input.invocationTimeoutSeconds,
    attempts: 0,
  };
  const written = queue.put(record).then(() => record);
  accepting.set(record.inferenceId, written);
  try {
    await written;
  } finally {
    accepting.delete(record.inferenceId);
  }
  options.log.info({ inferenceId: record.inferenceId, inputLocation: record.inputLocation }, "async request queued");
  options.onQueued();
  return record;
}

function answerRepeat(options: GatewayOptions, input: AsyncInvocationInput, existing: AsyncRequestRecord): AsyncRequestRecord {
  const same =
    existing.inputLocation === input.inputLocation &&
    existing.contentType === input.contentType &&
    existing.accept === input.accept &&
    existing.customAttributes === input.customAttributes &&
    existing.requestTtlSeconds === input.requestTtlSeconds &&
    existing.invocationTimeoutSeconds === input.invocationTimeoutSeconds;
  if (!same) {
    throw validationError("inferenceId", input.inferenceId, "An earlier request used this inference id with other parameters; use a new inference id");
  }
  options.log.info({ inferenceId: input.inferenceId, status: existing.status }, "repeated async request; answering with the first one");
  return existing;
}

/**
 * The InvokeEndpoint answer to a failed real-time invocation, as SageMaker words it: a container's
 * 4xx/5xx or time-out is a ModelError (424) naming the container (`primary` for a single-container
 * model, its hostname in a pipeline: docs/pipelines.md), an oversized body a ValidationError, an
 * unreachable container ServiceUnavailable. Anything else is returned as is, for
 * {@link sendApiError} to answer as an InternalFailure.
 *
 * @example
 * ```ts
 * sendApiError(response, toRealtimeError(error, config, "recognition"), log);
 * ```
 */
export function toRealtimeError(error: unknown, config: Pick<AsyncConfig, "region" | "accountId" | "endpointName">, container = "primary"): unknown {
  const logStreamArn = endpointLogGroupArn(config);
  const see = `See ${logStreamArn} in account ${config.accountId} for more information.`;
  if (error instanceof PayloadTooLargeError) {
    return validationError("body", "(payload)", `Member must have length less than or equal to ${realtimeMaxBodyBytes}`);
  }
  if (error instanceof InferenceTimeoutError) {
    const original = `Your invocation timed out while waiting for a response from container ${container}.`;
    return new RuntimeApiError("ModelError", 424, `Received server error (0) from ${container} with message "${original}". ${see}`, {
      OriginalStatusCode: 0,
      OriginalMessage: original,
      LogStreamArn: logStreamArn,
    });
  }
  if (error instanceof ModelInvocationError) {
    const kind = error.statusCode < 500 ? "client" : "server";
    return new RuntimeApiError("ModelError", 424, `Received ${kind} error (${error.statusCode}) from ${container} with message "${error.originalMessage}". ${see}`, {
      OriginalStatusCode: error.statusCode,
      OriginalMessage: error.body.toString("utf8"),
      LogStreamArn: logStreamArn,
    });
  }
  if (error instanceof InvokerUnavailableError) return new RuntimeApiError("ServiceUnavailable", 503, error.message);
  if (error instanceof ModelDataNotFoundError) {
    const { bucket, key } = error.location;
    return new RuntimeApiError(
      "ValidationError",
      400,
      `Failed to download model data (bucket: ${bucket}, key: ${key}). Ensure that there is an object at this location and that the endpoint's role may read it.`,
    );
  }
  if (error instanceof ModelDataInvalidError) return new RuntimeApiError("ValidationError", 400, error.message);
  if (error instanceof ModelDataUnavailableError) return new RuntimeApiError("InternalDependencyException", 530, error.message);
  if (error instanceof ModelStillLoadingError) return new RuntimeApiError("ModelNotReadyException", 429, error.message);
  return error;
}

/**
 * The ARN of the endpoint's log group, as ModelError's `LogStreamArn` gives it.
 *
 * @example
 * ```ts
 * endpointLogGroupArn({ region: "us-east-1", accountId: "000000000000", endpointName: "ocr" });
 * // "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/ocr"
 * ```
 */
export function endpointLogGroupArn(config: Pick<AsyncConfig, "region" | "accountId" | "endpointName">): string {
  return `arn:aws:logs:${config.region}:${config.accountId}:log-group:/aws/sagemaker/Endpoints/${config.endpointName}`;
}

/**
 * The one place that answers gateway errors: {@link RuntimeApiError}s in the restJson1 shape
 * (`x-amzn-ErrorType` header, `Message` and the type's members in the body); anything else is an
 * InternalFailure whose real cause goes to the log.
 *
 * @example
 * ```ts
 * sendApiError(response, new RuntimeApiError("ValidationError", 400, "Endpoint x of account 000000000000 not found."), log);
 * ```
 */
export function sendApiError(response: ServerResponse, error: unknown, log: Logger): void {
  const requestId = randomUUID();
  const known =
    error instanceof RuntimeApiError
      ? error
      : isInferenceError(error) && error.statusCode < 500
        ? new RuntimeApiError("ValidationError", 400, error.message)
        : new RuntimeApiError("InternalFailure", 500, `An internal failure occurred; see the gateway log for request id ${requestId}.`);
  // ServiceUnavailable is back-pressure (a full queue, a model not ready), not a fault: no stack.
  if (known.statusCode >= 500 && known.errorType !== "ServiceUnavailable") log.error({ err: error, requestId, errorType: known.errorType }, "gateway request failed");
  else log.warn({ requestId, errorType: known.errorType, reason: known.message }, "gateway request rejected");
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const payload = JSON.stringify({ Message: known.message, ...known.members });
  response.statusCode = known.statusCode;
  response.setHeader("x-amzn-errortype", known.errorType);
  response.setHeader("x-amzn-requestid", requestId);
  response.setHeader("content-type", "application/json; charset=utf-8");
  response.setHeader("content-length", Buffer.byteLength(payload));
  response.end(payload);
}
