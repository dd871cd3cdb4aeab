import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { toErrorResponse, type ErrorBody } from "./error-response.js";

/**
 * Answers with the JSON error body and logs the error: 5xx at error level with the stack,
 * 4xx at warn level with the message only; both with the failed `stage` of a pipeline of stages. An InferenceError whose status is not 400-599 is
 * answered as a 500 and logged with the status the handler asked for (`handlerStatusCode`).
 * `shape` gives the body another protocol's form (KServe V2's `{"error": "<message>"}`).
 *
 * @example
 * ```ts
 * sendError(res, new BadRequestError("Empty body"), inferenceId, log);
 * ```
 */
export function sendError(response: ServerResponse, error: unknown, inferenceId: string, log: Logger, shape: (body: ErrorBody) => unknown = (body) => body): void {
  const answer = toErrorResponse(error, inferenceId);
  const stage = answer.body.error.stage === undefined ? {} : { stage: answer.body.error.stage };
  if ("rejectedStatusCode" in answer) {
    log.error(
      { inferenceId, err: error, status: answer.statusCode, handlerStatusCode: answer.rejectedStatusCode, ...stage },
      "invocation failed: an InferenceError carried a status outside 400-599, answered as 500",
    );
  } else if (answer.statusCode >= 500) {
    log.error({ inferenceId, err: error, status: answer.statusCode, ...stage }, "invocation failed");
  } else {
    log.warn({ inferenceId, status: answer.statusCode, code: answer.body.error.code, reason: answer.body.error.message, ...stage }, "invocation rejected");
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const payload = JSON.stringify(shape(answer.body));
  response.statusCode = answer.statusCode;
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  response.setHeader("content-type", "application/json");
  response.setHeader("content-length", Buffer.byteLength(payload));
  response.end(payload);
}
