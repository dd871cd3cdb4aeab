import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { BadRequestError, InferenceError, ModelNotReadyError } from "../errors.js";
import { createInvocationsHandler, type InvocationsOptions } from "./invocations.js";
import { sendError } from "./send-error.js";

/** What `/ping` reports on. */
export interface Readiness {
  readonly ready: boolean;
  readonly failure: Error | undefined;
}

/** Everything the HTTP layer needs; it knows nothing of workers or models. */
export interface AppOptions extends InvocationsOptions {
  readonly readiness: Readiness;
}

const pingOk = JSON.stringify({ status: "ready" });

/**
 * The Express app: `GET /ping`, `POST /invocations`, JSON errors for everything else.
 *
 * @example
 * ```ts
 * const app = createApp({ invoke, readiness: pool, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, maxConcurrentRequests: 256 });
 * app.listen(8080);
 * ```
 */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);

  // SageMaker's health check times out after 2 s (CONTRACT.md §1): answer from memory, never wait on inference.
  app.get("/ping", (_request, response) => {
    options.log.debug("ping");
    if (options.readiness.ready) {
      response.status(200).type("application/json").send(pingOk);
      return;
    }
    const failure = options.readiness.failure;
    const error = new ModelNotReadyError(failure ? `Model failed to load: ${failure.message}` : "Model is loading");
    response.status(503).json({ error: { code: error.code, message: error.message } });
  });

  const invocations = createInvocationsHandler(options);
  app.post("/invocations", (request, response) => invocations(request, response));
  app.all(["/ping", "/invocations"], (request, response) => {
    const allowed = request.path === "/ping" ? "GET" : "POST";
    response.setHeader("allow", allowed);
    response.status(405).json({ error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} ${request.path} is not allowed; use ${allowed}` } });
  });
  app.use((request, response) => {
    response.status(404).json({ error: { code: "NOT_FOUND", message: `No route for ${request.method} ${request.path}` } });
  });
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    const known = error instanceof InferenceError ? error : new BadRequestError(`Malformed request: ${(error as Error).message}`);
    sendError(response, known, "-", options.log);
  });
  return app;
}
