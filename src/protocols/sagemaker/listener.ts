import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { checkingRecordCounts } from "../../batch/record-check.js";
import type { ServerConfig } from "../../config/server-config.js";
import type { DataPlane } from "../../dispatch/data-plane.js";
import type { ModelRegistry } from "../../dispatch/model-registry.js";
import { BadRequestError, InferenceError, NotFoundError } from "../../errors.js";
import { Admission } from "../../http/admission.js";
import { addExecutionParametersRoute } from "./execution-parameters.js";
import { createInvocationsHandler, type Invoke } from "./invocations.js";
import { createModelsRouter } from "./models-api.js";
import { createPingHandler } from "./ping.js";
import type { Connections } from "../../http/connections.js";
import { sendError } from "../../http/send-error.js";
import { createKserveV2Router } from "../kserve-v2/routes.js";
import { createMetricsHandler, countRequests, invocationObserver } from "../metrics/endpoint.js";
import type { RouteObserver, ServerMetrics } from "../metrics/server-metrics.js";
import type { InvocationRequest } from "../../pipeline/inference-pipeline.js";

/** Everything the HTTP layer needs; it knows nothing of workers. */
export interface AppOptions {
  /** Where requests meet the models. */
  readonly plane: DataPlane;
  /** The model `/invocations` runs; `undefined` on a multi-model endpoint, which serves `/models` instead. */
  readonly defaultModel: string | undefined;
  /** The multi-model API's registry, when the endpoint is one. */
  readonly registry: ModelRegistry | undefined;
  readonly log: Logger;
  readonly timeoutMs: number;
  /** Longest gap between two chunks of a streamed answer, in milliseconds. */
  readonly streamIdleMs: number;
  readonly maxPayloadBytes: number;
  readonly maxConcurrentRequests: number;
  readonly maxInFlightBytes: number;
  /** Told of every request first: connection accounting and `Connection: close` while draining. */
  readonly connections: Pick<Connections, "prepare">;
  /** The front doors beyond SageMaker's; without them the server speaks SageMaker's contract alone. */
  readonly frontDoors?: FrontDoorOptions | undefined;
  /** Batch transform (docs/batch.md): `GET /execution-parameters`, and the record checks of a job. */
  readonly batch?: BatchOptions | undefined;
}

/**
 * What the batch transform side of the server needs.
 *
 * @example
 * ```ts
 * const batch: BatchOptions = { config: config.batch, workers: config.workers };
 * ```
 */
export interface BatchOptions {
  readonly config: ServerConfig["batch"];
  /** Worker threads, for the concurrency `/execution-parameters` suggests. */
  readonly workers: number;
}

/**
 * The KServe V2 routes, the Vertex AI routes and `/metrics`, over the server's data plane
 * (docs/kserve-v2.md, docs/vertex.md, docs/metrics.md).
 *
 * @example
 * ```ts
 * const frontDoors: FrontDoorOptions = { defaultModel: "model", serverVersion: "0.1.0", vertex: undefined, metrics, serveMetrics: true };
 * ```
 */
export interface FrontDoorOptions {
  /** The model the Vertex AI predict route runs; none on a multi-model endpoint. */
  readonly defaultModel: string | undefined;
  /** This package's version, which KServe V2 server metadata reports. */
  readonly serverVersion: string;
  /** Vertex AI's routes, when its variables name them. */
  readonly vertex: VertexRoutes | undefined;
  readonly metrics: ServerMetrics | undefined;
  /** `/metrics` on this port; false when it has a port of its own (`SAGEMAKER_SAFE_PORT_RANGE`). */
  readonly serveMetrics: boolean;
}

/**
 * The paths Vertex AI calls (`AIP_HEALTH_ROUTE`, `AIP_PREDICT_ROUTE`) and its request size limit.
 *
 * @example
 * ```ts
 * const vertex: VertexRoutes = { healthRoute: "/health", predictRoute: "/predict", maxPayloadBytes: 1.5 * 1024 * 1024 };
 * ```
 */
export interface VertexRoutes {
  readonly healthRoute: string | undefined;
  readonly predictRoute: string | undefined;
  readonly maxPayloadBytes: number;
}

/**
 * The server's request listener. The routes called at a high rate, SageMaker's `POST /invocations`,
 * `GET /ping` and (multi-model) `POST /models/{name}/invoke`, and Vertex AI's predict and health
 * routes, are dispatched here before Express: Express's routing and its request/response
 * prototypes cost more per request than the rest of the HTTP layer together. Every other request
 * goes to the Express app ({@link createApp}), where new routes belong. Every inference route
 * shares one admission control (requests and body bytes in flight).
 *
 * @example
 * ```ts
 * const listener = createRequestListener({ plane, defaultModel: "model", registry: undefined, connections, log, timeoutMs: 60_000, streamIdleMs: 30_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256, maxInFlightBytes: 256 << 20 });
 * http.createServer(listener).listen(8080);
 * ```
 */
export function createRequestListener(options: AppOptions): RequestListener {
  const { frontDoors, plane, defaultModel, registry, log } = options;
  const metrics = frontDoors?.metrics;
  const admission = new Admission({ maxRequests: options.maxConcurrentRequests, maxBytes: options.maxInFlightBytes });
  metrics?.trackInFlight(() => admission.requests);
  const ping = createPingHandler(plane.readiness, log);
  const pingRequests = metrics?.route("/ping");
  const invokeModel = (model: string, request: InvocationRequest, signal: AbortSignal) =>
    plane.invoke(model, request, signal, { transferBody: true, requestsInFlight: admission.requests });
  const invocationsFor = (route: string, invoke: Invoke = invokeModel) =>
    createInvocationsHandler({
      ...options,
      invoke,
      admission,
      observe: metrics === undefined ? undefined : (model) => invocationObserver(metrics, route, model),
    });
  const batchJob = options.batch?.config.enabled === true;
  if (batchJob) logBatchJob(options);
  // Record counting costs a scan of each body: only a batch job pays for it.
  const invocations = invocationsFor("/invocations", batchJob ? checkingRecordCounts(invokeModel) : invokeModel);
  const modelInvocations = registry === undefined ? undefined : invocationsFor("/models/{name}/invoke");
  const vertex = frontDoors?.vertex;
  const vertexModel = frontDoors?.defaultModel;
  const vertexPredict =
    vertex?.predictRoute !== undefined && vertexModel !== undefined
      ? createInvocationsHandler({
          invoke: (model, request, signal) => invokeModel(model, { ...request, protocol: "vertex" }, signal),
          log,
          timeoutMs: options.timeoutMs,
          streamIdleMs: options.streamIdleMs,
          maxPayloadBytes: vertex.maxPayloadBytes,
          admission,
          observe: metrics === undefined ? undefined : (model) => invocationObserver(metrics, vertex.predictRoute, model),
        })
      : undefined;
  const vertexHealthRequests = vertex?.healthRoute === undefined ? undefined : metrics?.route(vertex.healthRoute);
  const run = (handler: typeof invocations, request: IncomingMessage, response: ServerResponse, model: string): void => {
    handler(request, response, model).catch((error: unknown) => sendError(response, error, "-", log));
  };
  const app = createApp(options, admission);
  return (request, response) => {
    options.connections.prepare(request, response);
    const path = pathOf(request);
    const method = request.method;
    const modelInvoke = modelInvocations !== undefined && method === "POST" && path !== undefined ? modelInvokePath.exec(path) : null;
    if (path === "/invocations" && method === "POST") {
      if (defaultModel !== undefined) run(invocations, request, response, defaultModel);
      else sendError(response, new NotFoundError("POST /invocations is not served on a multi-model endpoint: load a model with POST /models and call POST /models/{name}/invoke"), "-", log);
    } else if (modelInvoke !== null && modelInvocations !== undefined) {
      run(modelInvocations, request, response, decodeModelName(modelInvoke[1] as string));
    } else if (path === "/ping" && (method === "GET" || method === "HEAD")) {
      answerPing(ping, request, response, pingRequests);
    } else if (path === "/invocations" || path === "/ping") {
      methodNotAllowed(request, response, path);
    } else if (vertexPredict !== undefined && vertexModel !== undefined && path === vertex?.predictRoute && method === "POST") {
      run(vertexPredict, request, response, vertexModel);
    } else if (path !== undefined && path === vertex?.healthRoute && (method === "GET" || method === "HEAD")) {
      answerPing(ping, request, response, vertexHealthRequests);
    } else {
      app(request, response);
    }
  };
}

/** `/ping` (and Vertex AI's health route, which means the same): answered from memory, counted. */
function answerPing(
  ping: (request: IncomingMessage, response: ServerResponse) => void,
  request: IncomingMessage,
  response: ServerResponse,
  requests: RouteObserver | undefined,
): void {
  if (requests === undefined) {
    ping(request, response);
    return;
  }
  const started = performance.now();
  ping(request, response);
  requests.observe(response.statusCode, (performance.now() - started) / 1000);
}

/**
 * 405 for `/ping` and `/invocations` with another method. The paths match exactly, as SageMaker
 * calls them: `/INVOCATIONS` or `/invocations/` is another resource, a 404.
 */
function methodNotAllowed(request: IncomingMessage, response: ServerResponse, path: string): void {
  const allowed = path === "/ping" ? "GET, HEAD" : "POST";
  const body = JSON.stringify({ error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} ${path} is not allowed; use ${allowed}` } });
  response.statusCode = 405;
  response.setHeader("allow", allowed);
  response.setHeader("content-type", "application/json");
  response.setHeader("content-length", Buffer.byteLength(body));
  response.end(body);
}

/**
 * The Express app behind {@link createRequestListener}: JSON 404 answers, and the place for routes
 * beyond the two hot ones (matched case-sensitively and strictly, as those two are).
 *
 * @example
 * ```ts
 * const app = createApp(options, new Admission({ maxRequests: 256, maxBytes: 256 << 20 }));
 * ```
 */
export function createApp(options: AppOptions, admission: Admission): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);
  app.set("case sensitive routing", true);
  app.set("strict routing", true);

  if (options.registry !== undefined) app.use(createModelsRouter(options.registry));
  const frontDoors = options.frontDoors;
  if (frontDoors !== undefined) {
    const { metrics } = frontDoors;
    if (metrics !== undefined) app.use(countRequests(metrics));
    if (metrics !== undefined && frontDoors.serveMetrics) app.get("/metrics", createMetricsHandler(metrics, options.log));
    app.use(
      createKserveV2Router({
        models: options.plane,
        log: options.log,
        timeoutMs: options.timeoutMs,
        maxPayloadBytes: options.maxPayloadBytes,
        admission,
        serverVersion: frontDoors.serverVersion,
        observe: metrics === undefined ? undefined : (model) => invocationObserver(metrics, undefined, model),
      }),
    );
  }
  if (options.batch !== undefined) {
    const { plane, defaultModel } = options;
    const { config, workers } = options.batch;
    addExecutionParametersRoute(app, {
      readiness: plane.readiness,
      log: options.log,
      overrides: config.executionParameters,
      workers,
      maxPayloadBytes: options.maxPayloadBytes,
      signature: () => (defaultModel === undefined ? undefined : plane.model(defaultModel)?.signature),
    });
  }
  app.use((request, response) => {
    sendError(response, new NotFoundError(`No route for ${request.method} ${request.path}`), "-", options.log);
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    const known = error instanceof InferenceError ? error : new BadRequestError(`Malformed request: ${(error as Error).message}`);
    sendError(response, known, "-", options.log);
  });
  return app;
}

const modelInvokePath = /^\/models\/([^/]+)\/invoke$/;

function logBatchJob(options: AppOptions): void {
  const config = options.batch?.config;
  options.log.info(
    {
      maxPayloadInMb: config?.maxPayloadInMb,
      batchStrategy: config?.strategy,
      maxConcurrentTransforms: config?.maxConcurrentTransforms,
      maxPayloadBytes: options.maxPayloadBytes,
    },
    "batch transform job: answers must hold one record per request record",
  );
}

/** A model name from its URL segment: percent-decoded, or as written when the escapes are broken. */
function decodeModelName(segment: string): string {
  // Most names have no escapes (the local gateway's are hex digits): skip the decoder, measurable per request.
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function pathOf(request: IncomingMessage): string | undefined {
  const url = request.url;
  if (url === undefined) return undefined;
  // Absolute-form request targets (`POST http://host/invocations`, as some proxies send) are rare.
  if (url.charCodeAt(0) !== 47 /* "/" */) return URL.canParse(url) ? new URL(url).pathname : undefined;
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
