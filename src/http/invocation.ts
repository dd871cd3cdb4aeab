import type { IncomingMessage, ServerResponse } from "node:http";
import { InferenceTimeoutError } from "../errors.js";
import type { EncodedBody } from "../codecs/codec.js";
import type { ResponseStream } from "../handlers/types.js";
import { isStream, type InvocationRequest, type InvocationResult, type StageTimings } from "../pipeline/inference-pipeline.js";
import type { Admission } from "./admission.js";
import { lingerAfterAnswer } from "./lingering-close.js";
import { decodeContentEncoding } from "./content-encoding.js";
import { readBody } from "./read-body.js";
import { headerValue, invocationRequestFrom } from "./sagemaker-headers.js";

/**
 * One protocol's way of answering an invocation over HTTP: the container's `/invocations`, the
 * gateway's InvokeEndpoint. The rest (time limit, client gone, body limit, header mapping) is the
 * same for all and lives in {@link serveInvocation}.
 *
 * @example
 * ```ts
 * const route: InvocationRoute = { timeoutMs: 60_000, maxPayloadBytes: 6 << 20, invoke, sendError, resultHeaders: () => ({}) };
 * ```
 */
export interface InvocationRoute {
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  /** Longest gap between two chunks of a streamed answer, in milliseconds. */
  readonly streamIdleMs: number;
  /** Bounds requests and body bytes in flight; none for a route that needs no bound. */
  readonly admission?: Admission;
  invoke(request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult>;
  /**
   * Answers a failure the protocol's way. Past the time limit the error is an
   * {@link InferenceTimeoutError}; an oversized body is a `PayloadTooLargeError`.
   */
  sendError(response: ServerResponse, error: unknown, inferenceId: string): void;
  /** Headers added to every successful answer. */
  resultHeaders?(inferenceId: string): Readonly<Record<string, string>>;
}

/**
 * The status an invocation whose client left before the answer is counted and logged under, as
 * nginx logs it: no status was sent.
 */
export const clientClosedStatus = 499;

/**
 * How one invocation went, for the caller's log line.
 *
 * @example
 * ```ts
 * const { requestBytes, responseBytes, clientGone } = await serveInvocation(route, req, res, inferenceId);
 * ```
 */
export interface InvocationOutcome {
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Where the time went, when the request reached the model. */
  readonly timings: StageTimings | undefined;
  /** The client left before the answer; nothing was sent. */
  readonly clientGone: boolean;
}

/**
 * Serves one invocation: waits for admission (requests and body bytes in flight), reads the body
 * within `maxPayloadBytes` (declared and streamed) and undoes its Content-Encoding, maps the
 * SageMaker headers, runs it under one abort signal that fires at the time limit (with an
 * {@link InferenceTimeoutError}) or when the client goes away, and answers with the result or
 * through `route.sendError`. When the client left, nothing is sent.
 *
 * @example
 * ```ts
 * const outcome = await serveInvocation(route, req, res, inferenceId);
 * ```
 */
export async function serveInvocation(route: InvocationRoute, request: IncomingMessage, response: ServerResponse, inferenceId: string): Promise<InvocationOutcome> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new InferenceTimeoutError(`Inference did not finish within ${route.timeoutMs / 1000} s`)),
    route.timeoutMs,
  );
  // The reason is built only when needed: a DOMException captures a stack trace, which cost
  // about 10% of the main thread's time per request when made up front.
  let clientGone = false;
  const onClose = (): void => {
    if (response.writableFinished) return;
    clientGone = true;
    abort.abort(new DOMException("Client closed the connection", "AbortError"));
  };
  response.once("close", onClose);
  let requestBytes = 0;
  let responseBytes = 0;
  let timings: StageTimings | undefined;
  let release: (() => void) | undefined;
  try {
    release = await route.admission?.acquire(admittedBytes(request, route.maxPayloadBytes), abort.signal);
    const raw = await readBody(request, route.maxPayloadBytes, abort.signal);
    const body = await decodeContentEncoding(raw, headerValue(request.headers, "content-encoding"), route.maxPayloadBytes);
    requestBytes = body.length;
    const result = await route.invoke(invocationRequestFrom(request.headers, body, inferenceId), abort.signal);
    timings = result.timings;
    responseBytes = isStream(result.body)
      ? await sendStream(response, { ...result, body: result.body }, route.resultHeaders?.(inferenceId), abort.signal, route.streamIdleMs)
      : sendResult(response, { ...result, body: result.body }, route.resultHeaders?.(inferenceId));
    if (!isStream(result.body) && !response.writableFinished && route.admission !== undefined) {
      // The answer waits in memory until the client has read it: it counts like a body in flight.
      response.once("close", route.admission.hold(responseBytes));
    }
  } catch (error) {
    if (!clientGone) {
      if (!request.complete) lingerAfterAnswer(request, response);
      route.sendError(response, error, inferenceId);
    }
  } finally {
    clearTimeout(timer);
    release?.();
  }
  return { requestBytes, responseBytes, timings, clientGone };
}

/** What a request may hold: its declared length, or the payload limit when it declares none (chunked). */
function admittedBytes(request: IncomingMessage, maxPayloadBytes: number): number {
  const declared = Number(request.headers["content-length"]);
  return Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxPayloadBytes) : maxPayloadBytes;
}

/**
 * Writes a 200 with the result's body, type, custom attributes and protocol headers; returns the body's size.
 * A string body goes out as is: Node then writes headers and body in one call, where a Buffer
 * costs a writev.
 */
function sendResult(response: ServerResponse, result: InvocationResult & { body: EncodedBody }, extraHeaders: Readonly<Record<string, string>> | undefined): number {
  const bytes = typeof result.body === "string" ? Buffer.byteLength(result.body) : result.body.byteLength;
  setResultHeaders(response, result, extraHeaders);
  response.setHeader("content-length", bytes);
  response.end(result.body);
  return bytes;
}

function setResultHeaders(response: ServerResponse, result: InvocationResult, extraHeaders: Readonly<Record<string, string>> | undefined): void {
  response.statusCode = 200;
  response.setHeader("content-type", result.contentType);
  if (result.customAttributes !== undefined) response.setHeader("x-amzn-sagemaker-custom-attributes", result.customAttributes);
  if (result.protocolHeaders !== undefined) for (const [name, value] of Object.entries(result.protocolHeaders)) response.setHeader(name, value);
  if (extraHeaders !== undefined) for (const [name, value] of Object.entries(extraHeaders)) response.setHeader(name, value);
}

/**
 * Writes a streamed answer as a chunked body, each chunk as it comes, waiting for the socket to
 * drain before taking the next (back-pressure reaches the handler's iterator through the worker).
 * The whole stream is bounded by the invocation's signal (its time limit, or the client leaving),
 * and the gap between two chunks by `idleMs`. Once a chunk is out the status cannot change, so a
 * failure then ends the connection without the final chunk: the client sees a broken stream,
 * never a complete one (docs/streaming.md). Returns the bytes written.
 */
async function sendStream(
  response: ServerResponse,
  result: InvocationResult & { body: ResponseStream },
  extraHeaders: Readonly<Record<string, string>> | undefined,
  signal: AbortSignal,
  idleMs: number,
): Promise<number> {
  const chunks = result.body[Symbol.asyncIterator]();
  let bytes = 0;
  let started = false;
  try {
    for (;;) {
      const next = await nextWithin(chunks, idleMs, signal);
      if (next.done === true) break;
      const chunk = next.value;
      const size = typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
      if (size === 0) continue;
      if (!started) {
        setResultHeaders(response, result, extraHeaders);
        started = true;
      }
      bytes += size;
      if (!response.write(chunk)) await drained(response, signal);
    }
    if (!started) setResultHeaders(response, result, extraHeaders);
    response.end();
    return bytes;
  } catch (error) {
    await chunks.return?.();
    // Nothing was written yet: the caller answers with the error's status like any other.
    if (!started) throw error;
    response.destroy(error as Error);
    return bytes;
  }
}

/** The iterator's next chunk, or a rejection when `signal` fires or no chunk comes within `idleMs`. */
function nextWithin<T>(iterator: AsyncIterator<T>, idleMs: number, signal: AbortSignal): Promise<IteratorResult<T>> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new InferenceTimeoutError(`No chunk of the response stream within ${idleMs / 1000} s`))), idleMs);
    const onAbort = (): void => finish(() => reject(signal.reason as Error));
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    iterator.next().then(
      (next) => finish(() => resolve(next)),
      (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}

/** Resolves when the socket can take more, rejects when `signal` fires or the response closes first. */
function drained(response: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (settle: () => void): void => {
      response.off("drain", onDrain).off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    const onDrain = (): void => finish(resolve);
    const onClose = (): void => finish(() => reject(new Error("the connection closed while the stream was being written")));
    const onAbort = (): void => finish(() => reject(signal.reason as Error));
    response.on("drain", onDrain).on("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
