import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Logger } from "pino";
import { ModelNotReadyError } from "../errors.js";
import type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import { toErrorResponse } from "../http/error-response.js";
import type { RunningServer } from "../server.js";
import { InvocationDroppedError, InvokerUnavailableError, ModelInvocationError } from "./errors.js";
import { headerValue, invocationHeaders } from "../http/sagemaker-headers.js";

/**
 * Runs one inference for the gateway and the async worker, wherever the model is. Rejects with
 * {@link ModelInvocationError} when the model answers 4xx/5xx, {@link InvokerUnavailableError}
 * when it cannot be reached or is not loaded yet, {@link InvocationDroppedError} when it took the
 * request and closed the connection without answering, and the signal's reason when it fires first.
 *
 * @example
 * ```ts
 * const invoker: Invoker = new HttpInvoker("http://127.0.0.1:8080/invocations");
 * if (await invoker.ready?.(signal)) await invoker.invoke(request, AbortSignal.timeout(60_000));
 * ```
 */
export interface Invoker {
  /** Where it sends requests, for logs. */
  readonly target: string;
  /**
   * May consume `request.body`: the in-process invoker moves it to a worker thread. With `stream`,
   * a successful answer's body is handed on as it arrives (an async iterable of chunks) rather
   * than read whole: for InvokeEndpointWithResponseStream.
   */
  invoke(request: InvocationRequest, signal: AbortSignal, options?: { readonly stream?: boolean }): Promise<InvocationResult>;
  /**
   * Whether the model can take a request now (its `/ping` answers 200). The async worker asks
   * before it reads a payload from S3, so requests wait for a loading model without being
   * downloaded again and again. An invoker without it counts as always ready.
   */
  ready?(signal: AbortSignal): Promise<boolean>;
}

/** SageMaker's own limit on a `/ping` answer (docs/sagemaker-contract.md). */
const pingTimeoutMs = 2_000;

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
  readonly #log: Logger;

  /** `log` receives unexpected handler errors (defaults to the server's logger). */
  constructor(server: RunningServer, log: Logger = server.log) {
    this.#server = server;
    this.#log = log;
  }

  /** The server's answer as its handlers gave it: a streamed body stays a stream. */
  async invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    try {
      return await this.#server.invoke(request, signal, { transferBody: true });
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      if (error instanceof ModelNotReadyError) throw new InvokerUnavailableError(error.message, { cause: error });
      throw answeredAsOverHttp(error, request.inferenceId, this.#log, "the handlers failed");
    }
  }

  /** The server's own readiness, as its `/ping` reports it, read without a round trip through HTTP. */
  ready(): Promise<boolean> {
    return Promise.resolve(this.#server.ready);
  }
}

/**
 * POSTs to any SageMaker-compatible container's `/invocations` (the "beside" mode), with the
 * headers SageMaker forwards (docs/sagemaker-contract.md). Readiness is the container's `GET /ping` (next to
 * `/invocations`): 200 means ready, anything else (or no answer within 2 s) not yet.
 *
 * @example
 * ```ts
 * const invoker = new HttpInvoker("http://model:8080/invocations");
 * ```
 */
export class HttpInvoker implements Invoker {
  readonly target: string;
  readonly #url: URL;
  readonly #pingUrl: URL;

  constructor(url: string) {
    this.#url = new URL(url);
    this.target = this.#url.href;
    this.#pingUrl = new URL(this.#url.pathname.endsWith("/invocations") ? this.#url.pathname.replace(/invocations$/, "ping") : "/ping", this.#url);
  }

  ready(signal: AbortSignal): Promise<boolean> {
    return ping(this.#pingUrl, signal);
  }

  invoke(request: InvocationRequest, signal: AbortSignal, options: { readonly stream?: boolean } = {}): Promise<InvocationResult> {
    return postInvocation(this.#url, request, signal, options);
  }
}

/** A response body chunk by chunk, as it arrives; a connection lost before the end fails it with `dropped(cause)`. */
async function* streamedAnswer(response: IncomingMessage, dropped: (cause: Error) => Error): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of response) yield chunk as Buffer;
  } catch (error) {
    throw dropped(error as Error);
  }
  if (!response.complete) throw dropped(new Error("the connection closed in the middle of the answer"));
}

/**
 * POSTs one invocation to a container route (`/invocations`, or a multi-model endpoint's
 * `/models/{name}/invoke`) with the headers SageMaker forwards, and reads the answer into one
 * buffer, or with `stream` hands a successful answer's body on chunk by chunk as it arrives.
 * Rejects as {@link Invoker.invoke} does: {@link ModelInvocationError} for a 4xx/5xx,
 * {@link InvokerUnavailableError} when the container cannot be reached,
 * {@link InvocationDroppedError} when it took the request and closed without answering, and the
 * signal's reason when it fires first.
 *
 * @example
 * ```ts
 * const result = await postInvocation(new URL("http://model:8080/models/m1/invoke"), request, AbortSignal.timeout(60_000));
 * ```
 */
export function postInvocation(
  url: URL,
  request: InvocationRequest,
  signal: AbortSignal,
  options: { readonly stream?: boolean } = {},
): Promise<InvocationResult> {
  const headers = { ...invocationHeaders(request), "content-length": request.body.byteLength };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const target = url.href;
  return new Promise<InvocationResult>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    let sent = false;
    let answered = false;
    const dropped = (error: Error): InvocationDroppedError =>
      new InvocationDroppedError(`The model at ${target} closed the connection without answering: ${error.message}`, { cause: error });
    const outgoing = send(url, { method: "POST", headers, signal }, (response) => {
      answered = true;
      const status = response.statusCode ?? 500;
      if (options.stream === true && status >= 200 && status <= 299) {
        resolve({
          body: streamedAnswer(response, dropped),
          contentType: headerValue(response.headers, "content-type") ?? "application/octet-stream",
          customAttributes: headerValue(response.headers, "x-amzn-sagemaker-custom-attributes"),
        });
        return;
      }
      readAnswer(response, dropped).then(
        (body) => {
          const contentType = headerValue(response.headers, "content-type") ?? "application/octet-stream";
          if (status < 200 || status > 299) reject(new ModelInvocationError(status, body, contentType));
          else resolve({ body, contentType, customAttributes: headerValue(response.headers, "x-amzn-sagemaker-custom-attributes") });
        },
        (error: Error) => reject(signal.aborted ? (signal.reason as Error) : error),
      );
    });
    outgoing.on("finish", () => (sent = true));
    outgoing.on("error", (error) => {
      // Once an answer has begun, its own end, error or close settles the promise.
      if (answered) return;
      if (signal.aborted) reject(signal.reason as Error);
      // Closed once it had the whole request: it may have crashed on this payload.
      else if (sent) reject(dropped(error));
      else reject(new InvokerUnavailableError(`Could not reach the model at ${target}: ${error.message}`, { cause: error }));
    });
    outgoing.end(request.body);
  });
}

/**
 * A response body in one buffer: allocated once at the announced Content-Length when there is
 * one (no chunk list and concatenation, so a large output is not held twice), else collected.
 * A connection lost before the end rejects with `dropped(cause)`.
 */
function readAnswer(response: IncomingMessage, dropped: (cause: Error) => Error): Promise<Buffer> {
  const raw = response.headers["content-length"];
  const declared = raw === undefined ? undefined : Number(raw);
  return new Promise((resolve, reject) => {
    let body: Buffer | undefined;
    try {
      body = declared !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
    } catch (error) {
      response.destroy();
      reject(new Error(`Cannot hold the model's answer of ${declared} bytes: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    response.on("data", (chunk: Buffer) => {
      if (body === undefined) chunks.push(chunk);
      else chunk.copy(body, received);
      received += chunk.length;
    });
    response.on("error", (error) => reject(dropped(error)));
    response.on("close", () => {
      if (!response.complete) reject(dropped(new Error("the connection closed in the middle of the answer")));
    });
    // Fewer bytes than announced only where HTTP allows no body (204, 304): never hand on unwritten memory.
    response.on("end", () => resolve(body === undefined ? Buffer.concat(chunks, received) : body.subarray(0, received)));
  });
}

/** True when `url` answers 200 within {@link pingTimeoutMs}; false for any other answer or none. */
async function ping(url: URL, signal: AbortSignal): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(pingTimeoutMs)]) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * An error of an in-process call as the same call over HTTP would answer it: a
 * {@link ModelInvocationError} with the status and JSON body of the server's error answer. The
 * generic 500 hides what went wrong from the client, so an unexpected error and its stack are
 * logged here (as `failed`), as the HTTP routes log them.
 *
 * @example
 * ```ts
 * throw answeredAsOverHttp(error, request.inferenceId, log, "the handlers failed");
 * ```
 */
export function answeredAsOverHttp(error: unknown, inferenceId: string, log: Logger, failed: string): ModelInvocationError {
  const answer = toErrorResponse(error, inferenceId);
  if (answer.unexpected) log.error({ err: error, inferenceId, handlerStatusCode: answer.rejectedStatusCode }, failed);
  return new ModelInvocationError(answer.statusCode, Buffer.from(JSON.stringify(answer.body)), "application/json");
}
