/**
 * Entry point of an inference worker thread: loads the handlers and the model once, then runs
 * requests from the main thread through the pipeline. onnxruntime-node's `run` blocks its
 * thread for the whole inference (docs/onnx-runtime.md), so it must never run on the thread that
 * answers `/ping`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { builtinCodecs } from "../codecs/index.js";
import { CodecRegistry } from "../codecs/registry.js";
import { ConfigurationError } from "../errors.js";
import { importHandlers } from "../handlers/handlers-file.js";
import type { Handlers, ModelContext } from "../handlers/types.js";
import { createLogger, flushLog } from "../logger.js";
import { loadOnnxModels, releaseOnnxModels, type OnnxModel } from "../models/onnx/load-models.js";
import { InferencePipeline } from "../pipeline/inference-pipeline.js";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker-protocol.js";
import { serializeError } from "./serialize-error.js";

const port = parentPort;
if (port === null) throw new Error("inference-worker must run as a worker thread");
const setup = workerData as WorkerSetup;
const log = createLogger(setup.config.logLevel, { worker: setup.workerId });
const inFlight = new Map<number, AbortController>();
let model: unknown;
let handlers: Handlers = {};

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

async function load(): Promise<InferencePipeline> {
  const started = performance.now();
  handlers = setup.handlersFile === undefined ? {} : await importHandlers(setup.handlersFile);
  const codecs = new CodecRegistry([...builtinCodecs({ multipart: setup.config.multipart }), ...(handlers.codecs ?? [])]);
  const encodesByDefault = handlers.outputFn === undefined && handlers.transformFn === undefined;
  if (encodesByDefault && !codecs.encodableTypes.includes(setup.config.defaultAccept)) {
    throw new ConfigurationError(
      `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=${setup.config.defaultAccept} has no codec; use one of ${codecs.encodableTypes.join(", ")} or register a codec for it`,
    );
  }
  const modelContext: ModelContext = {
    log,
    workerId: setup.workerId,
    loadOnnxModels: (dir) => loadOnnxModels(dir, setup.config.onnx, log),
  };
  model = handlers.modelFn
    ? await handlers.modelFn(setup.modelDir, modelContext)
    : await modelContext.loadOnnxModels(setup.modelDir);
  send({ type: "ready", loadMs: performance.now() - started });
  return new InferencePipeline(handlers, model, codecs, setup.config);
}

async function invoke(pipeline: InferencePipeline, message: Extract<ToWorker, { type: "invoke" }>): Promise<void> {
  const controller = new AbortController();
  inFlight.set(message.id, controller);
  try {
    const result = await pipeline.invoke(
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
  if (handlers.modelFn === undefined && model !== undefined) await releaseOnnxModels(model as OnnxModel);
  await flushLog(log);
  process.exit(0);
}

try {
  const pipeline = await load();
  port.on("message", (message: ToWorker) => {
    if (message.type === "invoke") void invoke(pipeline, message);
    else if (message.type === "abort") inFlight.get(message.id)?.abort(new DOMException(`Request ${message.reason}`, "AbortError"));
    else void shutdown();
  });
} catch (error) {
  log.error({ err: error }, "model load failed");
  send({ type: "load-failed", error: serializeError(error) });
}
