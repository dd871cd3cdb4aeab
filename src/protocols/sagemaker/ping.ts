import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { notReadyError, type Readiness } from "../../dispatch/readiness.js";

const readyBody = JSON.stringify({ status: "ready" });

/**
 * The `GET /ping` handler. SageMaker's health check times out after 2 s
 * (docs/sagemaker-contract.md), so it answers from memory and never waits on inference: 200 when
 * the model is loaded, 503 with the reason while loading or after a failed load.
 *
 * @example
 * ```ts
 * const ping = createPingHandler(readiness, log);
 * ping(request, response);
 * ```
 */
export function createPingHandler(readiness: Readiness, log: Logger) {
  return function ping(_request: IncomingMessage, response: ServerResponse): void {
    log.debug("ping");
    if (readiness.ready) {
      send(response, 200, readyBody);
      return;
    }
    const error = notReadyError(readiness);
    send(response, 503, JSON.stringify({ error: { code: error.code, message: error.message } }));
  };
}

function send(response: ServerResponse, status: number, body: string): void {
  response.statusCode = status;
  response.setHeader("content-type", "application/json");
  response.setHeader("content-length", Buffer.byteLength(body));
  response.end(body);
}
