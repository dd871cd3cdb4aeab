import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { BadRequestError, InferenceError } from "../../errors.js";
import { Admission } from "../../http/admission.js";
import { createInvocationsHandler, type Invoke } from "./invocations.js";
import type { Readiness } from "../../dispatch/readiness.js";
import { createPingHandler } from "./ping.js";
import type { Connections } from "../../http/connections.js";
import { sendError } from "../../http/send-error.js";
import { createKserveV2Router } from "../kserve-v2/routes.js";
import { createMetricsHandler, countRequests, invocationObserver } from "../metrics/endpoint.js";
import type { RouteObserver, ServerMetrics } from "../metrics/server-metrics.js";
import type { ServedModels } from "../served-models.js";

/** Everything the HTTP layer needs; it knows nothing of workers or models. */
export interface AppOptions {
  /** Runs a SageMaker invocation on the server's model. */
  readonly invoke: Invoke;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxConcurrentRequests: number;
  readonly maxInFlightBytes: number;
  readonly readiness: Readiness;
  /** Told of every request first: connection accounting and `Connection: close` while draining. */
  readonly connections: Pick<Connections, "prepare">;
  /** The front doors beyond SageMaker's; without them the server speaks SageMaker's contract alone. */
  readonly frontDoors?: FrontDoorOptions | undefined;
}

/**
 * The KServe V2 routes, the Vertex AI routes and `/metrics`, over the server's models
 * (docs/kserve-v2.md, docs/vertex.md, docs/metrics.md).
 *
 * @example
 * ```ts
 * const frontDoors: FrontDoorOptions = { models, defaultModel: "model", serverVersion: "0.1.0", vertex: undefined, metrics, serveMetrics: true };
 * ```
 */
export interface FrontDoorOptions {
  readonly models: ServedModels;
  /** The model `/invocations` and the Vertex AI predict route run. */
  readonly defaultModel: string;
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
 * The server's request listener. `POST /invocations` and `GET /ping`, the two routes SageMaker
 * calls at a high rate, are dispatched here before Express, and so are Vertex AI's predict and
 * health routes: Express's routing and its request/response prototypes cost more per request
 * than the rest of the HTTP layer together. Every other request goes to the Express app
 * ({@link createApp}), where new routes belong. Every inference route shares one admission
 * control (requests and body bytes in flight).
 *
 * @example
 * ```ts
 * const listener = createRequestListener({ invoke, readiness: pool, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256, maxInFlightBytes: 256 << 20, connections });
 * http.createServer(listener).listen(8080);
 * ```
 */
export function createRequestListener(options: AppOptions): RequestListener {
  const { frontDoors, log } = options;
  const metrics = frontDoors?.metrics;
  const admission = new Admission({ maxRequests: options.maxConcurrentRequests, maxBytes: options.maxInFlightBytes });
  metrics?.trackInFlight(() => admission.requests);
  const ping = createPingHandler(options.readiness, log);
  const pingRequests = metrics?.route("/ping");
  const invocations = createInvocationsHandler({
    ...options,
    admission,
    observe: metrics && frontDoors ? invocationObserver(metrics, "/invocations", frontDoors.defaultModel) : undefined,
  });
  const vertex = frontDoors?.vertex;
  const vertexPredict =
    frontDoors !== undefined && vertex?.predictRoute !== undefined
      ? createInvocationsHandler({
          invoke: (request, signal) => frontDoors.models.invoke(frontDoors.defaultModel, { ...request, protocol: "vertex" }, signal),
          log,
          timeoutMs: options.timeoutMs,
          maxPayloadBytes: vertex.maxPayloadBytes,
          admission,
          observe: metrics ? invocationObserver(metrics, vertex.predictRoute, frontDoors.defaultModel) : undefined,
        })
      : undefined;
  const vertexHealthRequests = vertex?.healthRoute === undefined ? undefined : metrics?.route(vertex.healthRoute);
  const app = createApp(options, admission);
  return (request, response) => {
    options.connections.prepare(request, response);
    const path = pathOf(request);
    const method = request.method;
    if (path === "/invocations" && method === "POST") {
      invocations(request, response).catch((error: unknown) => sendError(response, error, "-", log));
    } else if (path === "/ping" && (method === "GET" || method === "HEAD")) {
      answerPing(ping, request, response, pingRequests);
    } else if (path === "/invocations" || path === "/ping") {
      methodNotAllowed(request, response, path);
    } else if (vertexPredict !== undefined && path === vertex?.predictRoute && method === "POST") {
      vertexPredict(request, response).catch((error: unknown) => sendError(response, error, "-", log));
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

  const frontDoors = options.frontDoors;
  if (frontDoors !== undefined) {
    const { metrics } = frontDoors;
    if (metrics !== undefined) app.use(countRequests(metrics));
    if (metrics !== undefined && frontDoors.serveMetrics) app.get("/metrics", createMetricsHandler(metrics, options.log));
    app.use(
      createKserveV2Router({
        models: frontDoors.models,
        log: options.log,
        timeoutMs: options.timeoutMs,
        maxPayloadBytes: options.maxPayloadBytes,
        admission,
        serverVersion: frontDoors.serverVersion,
        observe: metrics === undefined ? undefined : (model) => invocationObserver(metrics, undefined, model),
      }),
    );
  }
  app.use((request, response) => {
    response.status(404).json({ error: { code: "NOT_FOUND", message: `No route for ${request.method} ${request.path}` } });
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    const known = error instanceof InferenceError ? error : new BadRequestError(`Malformed request: ${(error as Error).message}`);
    sendError(response, known, "-", options.log);
  });
  return app;
}

function pathOf(request: IncomingMessage): string | undefined {
  const url = request.url;
  if (url === undefined) return undefined;
  // Absolute-form request targets (`POST http://host/invocations`, as some proxies send) are rare.
  if (url.charCodeAt(0) !== 47 /* "/" */) return URL.canParse(url) ? new URL(url).pathname : undefined;
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
