import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { clientClosedStatus } from "../../http/invocation.js";
import { listen } from "../../http/listen.js";
import type { InvocationObserver } from "../sagemaker/invocations.js";
import type { ServerMetrics } from "./server-metrics.js";

/**
 * The `GET /metrics` handler: every metric in Prometheus's text format. A failure to collect is
 * a 500 with the reason in the log.
 *
 * @example
 * ```ts
 * app.get("/metrics", createMetricsHandler(metrics, log));
 * ```
 */
export function createMetricsHandler(metrics: ServerMetrics, log: Logger) {
  return function serveMetrics(_request: IncomingMessage, response: ServerResponse): void {
    metrics.exposition().then(
      (text) => {
        response.statusCode = 200;
        response.setHeader("content-type", metrics.contentType);
        response.setHeader("content-length", Buffer.byteLength(text));
        response.end(text);
      },
      (error: unknown) => {
        log.error({ err: error }, "collecting the metrics failed");
        response.statusCode = 500;
        response.setHeader("content-type", "text/plain; charset=utf-8");
        response.end("collecting the metrics failed; see the server log\n");
      },
    );
  };
}

/**
 * Express middleware that counts and times every request the app answers, by its route template
 * (`/v2/models/:model{/versions/:version}/infer`), never by its raw path: a client sending random
 * paths cannot make the series grow. Unmatched requests count under `unmatched`.
 *
 * @example
 * ```ts
 * app.use(countRequests(metrics));
 * ```
 */
export function countRequests(metrics: ServerMetrics) {
  return function countRequest(request: Request, response: Response, next: NextFunction): void {
    const started = performance.now();
    response.once("close", () => {
      const route = (request.route as { path?: unknown } | undefined)?.path;
      const label = typeof route === "string" ? `${request.baseUrl}${route}` : "unmatched";
      metrics.route(label).observe(response.writableFinished ? response.statusCode : clientClosedStatus, (performance.now() - started) / 1000);
    });
    next();
  };
}

/**
 * What an inference route tells the metrics after each request: its status and duration under
 * `route` (unless another layer counts the route, as the Express middleware does), and the
 * stage timings of `model`. The route's and model's series are looked up once, here.
 *
 * @example
 * ```ts
 * const observe = invocationObserver(metrics, "/invocations", "model");
 * ```
 */
export function invocationObserver(metrics: ServerMetrics, route: string | undefined, model: string): InvocationObserver {
  const requests = route === undefined ? undefined : metrics.route(route);
  const stages = metrics.stages(model);
  return (outcome, status, seconds) => {
    requests?.observe(status, seconds);
    if (outcome.timings !== undefined) stages.observe(outcome.timings);
  };
}

/**
 * A listener of its own for `/metrics`, on the first free port of `range` (SageMaker's
 * `SAGEMAKER_SAFE_PORT_RANGE`, docs/metrics.md). Every other path is a 404.
 *
 * @example
 * ```ts
 * const { port, close } = await startMetricsListener(metrics, { first: 9100, last: 9110 }, "0.0.0.0", log);
 * ```
 */
export async function startMetricsListener(
  metrics: ServerMetrics,
  range: { readonly first: number; readonly last: number },
  host: string,
  log: Logger,
): Promise<{ readonly port: number; readonly url: string; close(): Promise<void> }> {
  const serveMetrics = createMetricsHandler(metrics, log);
  for (let port = range.first; port <= range.last; port++) {
    const server = createServer((request, response) => {
      if (request.url === "/metrics" && (request.method === "GET" || request.method === "HEAD")) return serveMetrics(request, response);
      response.statusCode = 404;
      response.setHeader("content-type", "text/plain; charset=utf-8");
      response.end("Not found: the metrics are at GET /metrics\n");
    });
    try {
      const address = await listen(server, port, host);
      return { ...address, close: () => closeServer(server) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    }
  }
  throw new Error(`No free port for /metrics in SAGEMAKER_SAFE_PORT_RANGE ${range.first}-${range.last}`);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
