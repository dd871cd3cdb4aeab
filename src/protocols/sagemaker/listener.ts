import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { checkingRecordCounts } from "../../batch/record-check.js";
import type { ServerConfig } from "../../config/server-config.js";
import { BadRequestError, InferenceError, NotFoundError } from "../../errors.js";
import { addExecutionParametersRoute } from "./execution-parameters.js";
import { createInvocationsHandler, type Invoke, type InvocationsOptions } from "./invocations.js";
import type { DataPlane } from "../../dispatch/data-plane.js";
import type { ModelRegistry } from "../../dispatch/model-registry.js";
import { createModelsRouter } from "./models-api.js";
import { createPingHandler } from "./ping.js";
import type { Connections } from "../../http/connections.js";
import { sendError } from "../../http/send-error.js";

/** Everything the HTTP layer needs; it knows nothing of workers. */
export interface AppOptions extends Omit<InvocationsOptions, "invoke"> {
  /** Where requests meet the models. */
  readonly plane: DataPlane;
  /** The model `/invocations` runs; `undefined` on a multi-model endpoint, which serves `/models` instead. */
  readonly defaultModel: string | undefined;
  /** The multi-model API's registry, when the endpoint is one. */
  readonly registry: ModelRegistry | undefined;
  /** Told of every request first: connection accounting and `Connection: close` while draining. */
  readonly connections: Pick<Connections, "prepare">;
  /** Batch transform (docs/batch.md): `GET /execution-parameters`, and the record checks of a job. */
  readonly batch?: BatchOptions;
}

/** What the batch transform side of the server needs. */
export interface BatchOptions {
  readonly config: ServerConfig["batch"];
  /** Worker threads, for the concurrency `/execution-parameters` suggests. */
  readonly workers: number;
}

const modelInvokePath = /^\/models\/([^/]+)\/invoke$/;

/**
 * The server's request listener. The routes SageMaker calls at a high rate, `POST /invocations`,
 * `GET /ping` and (multi-model) `POST /models/{name}/invoke`, are dispatched here before Express:
 * Express's routing and its request/response prototypes cost more per request than the rest of
 * the HTTP layer together. Every other request goes to the Express app ({@link createApp}), where
 * new routes belong.
 *
 * @example
 * ```ts
 * const listener = createRequestListener({ plane, defaultModel: "model", registry: undefined, connections, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256, maxInFlightBytes: 256 << 20 });
 * http.createServer(listener).listen(8080);
 * ```
 */
export function createRequestListener(options: AppOptions): RequestListener {
  const { plane, defaultModel, registry, log } = options;
  const ping = createPingHandler(plane.readiness, log);
  const toPlane: Invoke = (model, request, signal) => plane.invoke(model, request, signal, { transferBody: true });
  const batchJob = options.batch?.config.enabled === true;
  if (batchJob) logBatchJob(options);
  // Record counting costs a scan of each body: only a batch job pays for it.
  const invocations = createInvocationsHandler({ ...options, invoke: batchJob ? checkingRecordCounts(toPlane) : toPlane });
  const invoke = (request: IncomingMessage, response: ServerResponse, model: string): void => {
    invocations(request, response, model).catch((error: unknown) => sendError(response, error, "-", log));
  };
  const app = createApp(options);
  return (request, response) => {
    options.connections.prepare(request, response);
    const path = pathOf(request);
    const modelInvoke = registry !== undefined && request.method === "POST" && path !== undefined ? modelInvokePath.exec(path) : null;
    if (path === "/invocations" && request.method === "POST") {
      if (defaultModel !== undefined) invoke(request, response, defaultModel);
      else sendError(response, new NotFoundError("POST /invocations is not served on a multi-model endpoint: load a model with POST /models and call POST /models/{name}/invoke"), "-", log);
    } else if (modelInvoke !== null) {
      invoke(request, response, decodeModelName(modelInvoke[1] as string));
    } else if (path === "/ping" && (request.method === "GET" || request.method === "HEAD")) {
      ping(request, response);
    } else if (path === "/invocations" || path === "/ping") {
      methodNotAllowed(request, response, path);
    } else {
      app(request, response);
    }
  };
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
 * const app = createApp(options);
 * ```
 */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);
  app.set("case sensitive routing", true);
  app.set("strict routing", true);

  if (options.registry !== undefined) app.use(createModelsRouter(options.registry));
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
