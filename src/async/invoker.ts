import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { ModelNotReadyError } from "../errors.js";
import type { InvocationRequest, InvocationResult } from "../pipeline.js";
import { toErrorResponse } from "../server/error-response.js";
import type { RunningServer } from "../server/server.js";
import { InvokerUnavailableError, ModelInvocationError } from "./errors.js";

/**
 * Runs one inference for the gateway and the async worker, wherever the model is. Rejects with
 * {@link ModelInvocationError} when the model answers 4xx/5xx, {@link InvokerUnavailableError}
 * when it cannot be reached or is not loaded yet, and the signal's reason when it fires first.
 *
 * @example
 * ```ts
 * const invoker: Invoker = new HttpInvoker("http://127.0.0.1:8080/invocations");
 * const result = await invoker.invoke(request, AbortSignal.timeout(60_000));
 * ```
 */
export interface Invoker {
  /** Where it sends requests, for logs. */
  readonly target: string;
  /** May consume `request.body`: the in-process invoker moves it to a worker thread. */
  invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult>;
}

/**
 * Calls the model server of this process through {@link RunningServer.invoke}: the same worker
 * pool and handlers as `/invocations`, without HTTP. The body moves to the worker thread without
 * a copy when it owns its ArrayBuffer (as S3 downloads do), so a 1 GB payload exists once.
 *
 * @example
 * ```ts
 * const invoker = new InProcessInvoker(await startServer({ modelDir: "model" }));
 * ```
 */
export class InProcessInvoker implements Invoker {
  readonly target = "in-process";
  readonly #server: RunningServer;

  constructor(server: RunningServer) {
    this.#server = server;
  }

  async invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    try {
      return await this.#server.invoke(request, signal, { transferBody: true });
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      if (error instanceof ModelNotReadyError) throw new InvokerUnavailableError(error.message, { cause: error });
      // The same status and JSON body /invocations would answer; unexpected errors were logged by the worker.
      const answer = toErrorResponse(error, request.inferenceId);
      throw new ModelInvocationError(answer.statusCode, Buffer.from(JSON.stringify(answer.body)), "application/json");
    }
  }
}

/**
 * POSTs to any SageMaker-compatible container's `/invocations` (the "beside" mode), with the
 * headers SageMaker forwards (CONTRACT.md §1).
 *
 * @example
 * ```ts
 * const invoker = new HttpInvoker("http://model:8080/invocations");
 * ```
 */
export class HttpInvoker implements Invoker {
  readonly target: string;
  readonly #url: URL;

  constructor(url: string) {
    this.#url = new URL(url);
    this.target = this.#url.href;
  }

  invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    const headers: Record<string, string | number> = { "content-length": request.body.byteLength };
    const forwarded: Array<[string, string | undefined]> = [
      ["content-type", request.contentType],
      ["accept", request.accept],
      ["x-amzn-sagemaker-custom-attributes", request.customAttributes],
      ["x-amzn-sagemaker-inference-id", request.inferenceId],
      ["x-amzn-sagemaker-target-model", request.targetModel],
      ["x-amzn-sagemaker-target-variant", request.targetVariant],
      ["x-amzn-sagemaker-session-id", request.sessionId],
    ];
    for (const [name, value] of forwarded) if (value !== undefined) headers[name] = value;
    const send = this.#url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<InvocationResult>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      let answered = false;
      const outgoing = send(this.#url, { method: "POST", headers, signal }, (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => reject(signal.aborted ? (signal.reason as Error) : error));
        response.on("end", () => {
          const body = Buffer.concat(chunks);
          const status = response.statusCode ?? 500;
          const contentType = header(response.headers, "content-type") ?? "application/octet-stream";
          if (status < 200 || status > 299) {
            reject(new ModelInvocationError(status, body, contentType));
            return;
          }
          resolve({ body, contentType, customAttributes: header(response.headers, "x-amzn-sagemaker-custom-attributes") });
        });
      });
      outgoing.on("error", (error) => {
        if (signal.aborted) reject(signal.reason as Error);
        else if (answered) reject(error);
        else reject(new InvokerUnavailableError(`Could not reach the model at ${this.target}: ${error.message}`, { cause: error }));
      });
      outgoing.end(request.body);
    });
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
