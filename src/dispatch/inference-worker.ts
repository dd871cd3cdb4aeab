/**
 * Entry point of an inference worker thread: a message adapter around a {@link ModelRuntime}.
 * onnxruntime-node's `run` blocks its thread for the whole inference (docs/onnx-runtime.md), so
 * models never run on the thread that answers `/ping`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLogger, flushLog } from "../logger.js";
import { ModelRuntime } from "./model-runtime.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { serializeError } from "./serialize-error.js";

const port = parentPort;
if (port === null) throw new Error("inference-worker must run as a worker thread");
const setup = workerData as WorkerSetup;
const log = createLogger(setup.config.logLevel, { worker: setup.workerId });
const runtime = new ModelRuntime({ workerId: setup.workerId, config: setup.config, log });
const inFlight = new Map<number, AbortController>();

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
    // Copy, then transfer the copy: the handler may still hold the bytes it returned.
    const body = typeof result.body === "string" ? result.body : new Uint8Array(result.body);
    send({ type: "result", id: message.id, ...result, body }, typeof body === "string" ? [] : [body.buffer]);
  } catch (error) {
    send({ type: "error", id: message.id, error: serializeError(error) });
  } finally {
    inFlight.delete(message.id);
  }
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
    case "abort":
      inFlight.get(message.id)?.abort(new DOMException(`Request ${message.reason}`, "AbortError"));
      break;
    case "shutdown":
      void shutdown();
      break;
  }
});
send({ type: "started" });
