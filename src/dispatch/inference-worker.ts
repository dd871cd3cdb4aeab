/**
 * Entry point of an inference worker thread: a message adapter around a {@link ModelRuntime}.
 * onnxruntime-node's `run` blocks its thread for the whole inference (docs/onnx-runtime.md), so
 * models never run on the thread that answers `/ping`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLogger, flushLog } from "../logger.js";
import { primeOnnxRuntime } from "../models/onnx/prime-runtime.js";
import { ModelRuntime } from "./model-runtime.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { serializeError } from "./serialize-error.js";

const port = parentPort;
if (port === null) throw new Error("inference-worker must run as a worker thread");
const setup = workerData as WorkerSetup;
const log = createLogger(setup.config.logLevel, { worker: setup.workerId });
const runtime = new ModelRuntime({ workerId: setup.workerId, config: setup.config, log });
const inFlight = new Map<number, AbortController>();
const maxStringResultLength = 64 * 1024;

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
    case "abort":
      inFlight.get(message.id)?.abort(new DOMException(`Request ${message.reason}`, "AbortError"));
      break;
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
