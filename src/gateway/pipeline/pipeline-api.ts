import { randomUUID } from "node:crypto";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { PipelineConfig } from "../../config/pipeline-config.js";
import { serveInvocation, type InvocationRoute } from "../../http/invocation.js";
import { headerValue } from "../../http/sagemaker-headers.js";
import { InvocationDroppedError, InvokerUnavailableError, RuntimeApiError } from "../errors.js";
import { parseRealtimeHeaders } from "../request-headers.js";
import { endpointLogGroupArn, realtimeMaxBodyBytes, realtimeTimeoutMs, sendApiError, toRealtimeError } from "../runtime-api.js";
import type { ContainerTiming, MultiContainerEndpoint } from "./multi-container-endpoint.js";
import { ContainerFailedError, HandOverTooLargeError } from "./pipeline-errors.js";

/**
 * What the pipeline gateway needs.
 *
 * @example
 * ```ts
 * const options: PipelineApiOptions = { config, endpoint: new MultiContainerEndpoint("Serial", containers), log };
 * ```
 */
export interface PipelineApiOptions {
  readonly config: Pick<PipelineConfig, "endpointName" | "accountId" | "region" | "variantName">;
  readonly endpoint: MultiContainerEndpoint;
  readonly log: Logger;
  /** The time limit of one invocation, all containers together; SageMaker's 60 s by default. */
  readonly timeoutMs?: number;
}

/** A `/ping` must answer within SageMaker's 2 s; each container's own ping gets less. */
const containerPingTimeoutMs = 1_500;

/**
 * The SageMaker Runtime of a multi-container endpoint: `POST /endpoints/{name}/invocations`
 * (InvokeEndpoint, with `X-Amzn-SageMaker-Target-Container-Hostname` for direct invocation) with
 * the real header names, limits and restJson1 errors, so the unmodified AWS SDKs and boto3 work
 * against it; and `GET /ping`, 200 once every container's `/ping` is. One log line per
 * invocation gives each container's time. It does not check SigV4 signatures.
 *
 * @example
 * ```ts
 * const app = createPipelineApp({ config, endpoint, log });
 * createServer(app).listen(8081);
 * ```
 */
export function createPipelineApp(options: PipelineApiOptions): Express {
  const { config, endpoint, log } = options;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");

  const base = {
    timeoutMs: options.timeoutMs ?? realtimeTimeoutMs,
    streamIdleMs: options.timeoutMs ?? realtimeTimeoutMs,
    maxPayloadBytes: realtimeMaxBodyBytes,
    sendError: (response, error) => sendApiError(response, toPipelineError(error, config), log),
    resultHeaders: () => ({ "x-amzn-invoked-production-variant": config.variantName, "x-amzn-requestid": randomUUID() }),
  } satisfies Omit<InvocationRoute, "invoke">;

  app.post("/endpoints/:endpointName/invocations", async (request, response) => {
    const name = request.params["endpointName"];
    if (name !== config.endpointName) throw new RuntimeApiError("ValidationError", 400, `Endpoint ${name} of account ${config.accountId} not found.`);
    const headers = parseRealtimeHeaders(request.headers);
    const target = headerValue(request.headers, "x-amzn-sagemaker-target-container-hostname");
    const inferenceId = headers.inferenceId ?? randomUUID();
    const containers: ContainerTiming[] = [];
    const started = performance.now();
    const route: InvocationRoute = { ...base, invoke: (invocation, signal) => endpoint.invoke(invocation, target, signal, (timing) => containers.push(timing)) };
    const outcome = await serveInvocation(route, request, response, inferenceId);
    log.info(
      {
        inferenceId,
        status: response.statusCode,
        ms: round(performance.now() - started),
        requestBytes: outcome.requestBytes,
        responseBytes: outcome.responseBytes,
        ...(target === undefined ? {} : { targetContainer: target }),
        containers: containers.map((timing) => ({ ...timing, ms: round(timing.ms) })),
        ...(outcome.clientGone ? { clientGone: true } : {}),
      },
      "invocation",
    );
  });

  app.get("/ping", async (_request, response) => {
    const containers = await endpoint.readiness(AbortSignal.timeout(containerPingTimeoutMs));
    const ready = containers.every((container) => container.ready);
    response.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", endpointName: config.endpointName, mode: endpoint.mode, containers });
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
 * A container's failure answered as SageMaker answers it for a pipeline (docs/pipelines.md): as
 * for a single container, naming the container; an unreachable container is ServiceUnavailable
 * naming it; a container that dropped the connection a ModelError with status 0 (the toolkit's
 * choice); an oversized hand-over a ModelError with SageMaker's wording.
 */
function toPipelineError(error: unknown, config: PipelineApiOptions["config"]): unknown {
  const see = `See ${endpointLogGroupArn(config)} in account ${config.accountId} for more information.`;
  if (error instanceof HandOverTooLargeError) {
    return new RuntimeApiError("ModelError", 424, `${error.message} ${see}`, { OriginalStatusCode: 200, LogStreamArn: endpointLogGroupArn(config) });
  }
  if (!(error instanceof ContainerFailedError)) return toRealtimeError(error, config);
  const { container, cause } = error;
  if (cause instanceof InvokerUnavailableError) return new RuntimeApiError("ServiceUnavailable", 503, `Container ${container} cannot take requests: ${cause.message}`);
  if (cause instanceof InvocationDroppedError) {
    const original = `Container ${container} closed the connection without answering.`;
    return new RuntimeApiError("ModelError", 424, `Received server error (0) from ${container} with message "${original}". ${see}`, {
      OriginalStatusCode: 0,
      OriginalMessage: original,
      LogStreamArn: endpointLogGroupArn(config),
    });
  }
  const answered = toRealtimeError(cause, config, container);
  // Anything else (a bug, not the container's answer) stays an InternalFailure whose log names the container.
  return answered === cause ? error : answered;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
