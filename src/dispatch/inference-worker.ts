/**
 * Entry point of an inference worker thread: a message adapter around a {@link ModelRuntime}.
 * onnxruntime-node's `run` blocks its thread for the whole inference (docs/onnx-runtime.md), so
 * models never run on the thread that answers `/ping`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLogger, flushLog } from "../logger.js";
import { primeOnnxRuntime } from "../models/onnx/prime-runtime.js";
import type { ResponseStream } from "../handlers/types.js";
import { isStream, type InvocationResult } from "../pipeline/inference-pipeline.js";
import { uncloneable, type StageCall, type StageReturn } from "../pipeline/stages/hand-over.js";
import { ModelRuntime } from "./model-runtime.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { deserializeError, serializeError } from "./serialize-error.js";

const port = parentPort;
if (port === null) throw new Error("inference-worker must run as a worker thread");
const setup = workerData as WorkerSetup;
const log = createLogger(setup.config.logLevel, { worker: setup.workerId });
const runtime = new ModelRuntime({ workerId: setup.workerId, config: setup.config, log, callStage });
const inFlight = new Map<number, AbortController>();
/** This worker's calls to stages hosted elsewhere, by their own ids, until the main thread settles them. */
const stageCalls = new Map<number, { readonly resolve: (output: StageReturn) => void; readonly reject: (error: Error) => void }>();
let nextStageCallId = 1;
const maxStringResultLength = 64 * 1024;
/** Chunks of one response stream in flight between this worker and the client's socket. */
const streamWindow = 8;
const streamCredits = new Map<number, { available: number; wake: (() => void) | undefined }>();

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

async function answer(id: number, work: () => Promise<FromWorker>): Promise<void> {
  try {
    send(await work());
  } catch (error) {
    send({ type: "error", id, error: serializeError(error) });
  }
}

async function invoke(message: Extract<ToWorker, { type: "invoke" }>): Promise<void> {
  const controller = new AbortController();
  inFlight.set(message.id, controller);
  try {
    const result = await runtime.invoke(
      message.model,
      { ...message.request, body: toBuffer(message.body) },
      { log: log.child({ inferenceId: message.request.inferenceId }), signal: controller.signal },
    );
    if (isStream(result.body)) {
      await stream(message.id, result, result.body, controller.signal);
      return;
    }
    const body = transferableBody(result.body);
    send(
      {
        type: "result",
        id: message.id,
        contentType: result.contentType,
        customAttributes: result.customAttributes,
        timings: result.timings,
        protocolHeaders: result.protocolHeaders,
        body,
      },
      typeof body === "string" ? [] : [body.buffer as ArrayBuffer],
    );
  } catch (error) {
    send({ type: "error", id: message.id, error: serializeError(error) });
  } finally {
    inFlight.delete(message.id);
  }
}

/**
 * Runs a stage this worker hosts on a value another worker handed over, and hands its output
 * back with its buffers moved (transferred, not copied).
 */
async function runStage(message: Extract<ToWorker, { type: "run-stage" }>): Promise<void> {
  const controller = new AbortController();
  inFlight.set(message.id, controller);
  try {
    const output = await runtime.runStage(message.model, message.call, {
      log: log.child({ inferenceId: message.call.request.inferenceId }),
      signal: controller.signal,
    });
    try {
      send({ type: "stage-output", id: message.id, output }, [...output.transfer]);
    } catch (error) {
      throw uncloneable(error, message.call.stage, "output");
    }
  } catch (error) {
    send({ type: "error", id: message.id, error: serializeError(error) });
  } finally {
    inFlight.delete(message.id);
  }
}

/**
 * Asks the main thread to run a stage on a worker that hosts it (`host`), handing `call` over
 * with its buffers moved; settles with the stage's answer. When `signal` fires the call is
 * cancelled and the promise rejects with the signal's reason.
 */
function callStage(host: string, call: StageCall, signal: AbortSignal): Promise<StageReturn> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  const id = nextStageCallId++;
  return new Promise<StageReturn>((resolve, reject) => {
    const onAbort = (): void => {
      stageCalls.delete(id);
      send({ type: "cancel-stage", id });
      reject(signal.reason as Error);
    };
    try {
      send({ type: "call-stage", id, model: host, call }, [...call.transfer]);
    } catch (error) {
      reject(uncloneable(error, call.stage, "input"));
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    stageCalls.set(id, {
      resolve: (output) => {
        signal.removeEventListener("abort", onAbort);
        resolve(output);
      },
      reject: (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    });
  });
}

/**
 * Sends a streamed answer chunk by chunk, at most {@link streamWindow} ahead of what the main
 * thread has written to the client, so a slow client slows the handler's iterator rather than
 * filling memory. An abort (time limit, client gone) ends the loop, which closes the iterator.
 */
async function stream(id: number, result: InvocationResult, body: ResponseStream, signal: AbortSignal): Promise<void> {
  send({ type: "stream-start", id, contentType: result.contentType, customAttributes: result.customAttributes, timings: result.timings });
  const credit = { available: streamWindow, wake: undefined as (() => void) | undefined };
  streamCredits.set(id, credit);
  const chunks = body[Symbol.asyncIterator]();
  const aborted = new Promise<"aborted">((resolve) => {
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next === "aborted") {
        // Closes the iterator at its next step (a generator busy in an await finishes that first).
        void chunks.return?.();
        return;
      }
      if (next.done === true) break;
      while (credit.available === 0 && !signal.aborted) await new Promise<void>((resolve) => (credit.wake = resolve));
      if (signal.aborted) {
        void chunks.return?.();
        return;
      }
      credit.available--;
      const chunk = next.value;
      const data = typeof chunk === "string" ? chunk : new Uint8Array(chunk);
      send({ type: "stream-chunk", id, chunk: data }, typeof data === "string" ? [] : [data.buffer]);
    }
    send({ type: "stream-end", id });
  } finally {
    streamCredits.delete(id);
  }
}

/**
 * Large string bodies are encoded here and their bytes transferred: a multi-megabyte string
 * posted to the HTTP thread is copied into its heap and UTF-8-encoded there at write time, and
 * with many in flight its garbage collector paused `/ping` for over a second. Short strings stay
 * strings (one write with the headers). Bytes are copied before the transfer: the handler may
 * still hold what it returned.
 */
function transferableBody(body: string | Uint8Array): string | Uint8Array {
  if (typeof body !== "string") return new Uint8Array(body);
  return body.length <= maxStringResultLength ? body : Buffer.from(body, "utf8");
}

function toBuffer(body: Uint8Array | string): Buffer {
  return typeof body === "string" ? Buffer.from(body, "latin1") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

async function shutdown(): Promise<void> {
  await runtime.releaseAll();
  await flushLog(log);
  process.exit(0);
}

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "invoke":
      void invoke(message);
      break;
    case "load":
      void answer(message.id, async () => ({ type: "loaded", id: message.id, report: await runtime.load(message.source) }));
      break;
    case "unload":
      void answer(message.id, async () => {
        await runtime.unload(message.model);
        return { type: "unloaded", id: message.id };
      });
      break;
    case "probe":
      send({ type: "alive", id: message.id });
      break;
    case "run-stage":
      void runStage(message);
      break;
    case "stage-settled": {
      const call = stageCalls.get(message.id);
      stageCalls.delete(message.id);
      if (message.output !== undefined) call?.resolve(message.output);
      else if (message.error !== undefined) call?.reject(deserializeError(message.error));
      break;
    }
    case "abort":
      inFlight.get(message.id)?.abort(new DOMException(`Request ${message.reason}`, "AbortError"));
      streamCredits.get(message.id)?.wake?.();
      break;
    case "stream-ack": {
      const credit = streamCredits.get(message.id);
      if (credit !== undefined) {
        credit.available++;
        credit.wake?.();
        credit.wake = undefined;
      }
      break;
    }
    case "shutdown":
      void shutdown();
      break;
  }
});
// A promise a handler dropped that later rejects would end the thread (Node's default) and every
// request on it with it. It cannot be traced back to its request, so it is logged and the worker
// goes on; the request that dropped it ends as its own handlers decide (or at its time limit).
process.on("unhandledRejection", (reason) => {
  log.error({ err: reason, inFlight: inFlight.size }, "a handler left a promise rejection unhandled; the worker goes on");
});
if (setup.primeOnnxRuntime) await primeOnnxRuntime();
send({ type: "started" });
