import { createServer } from "node:http";
import type { Logger } from "pino";
import { loadConfig, type ConfigOverrides, type ServerConfig } from "./config/server-config.js";
import { notReadyError, type Readiness } from "./dispatch/readiness.js";
import { WorkerPool, type InvokeOptions } from "./dispatch/worker-pool.js";
import { Connections } from "./http/connections.js";
import { listen } from "./http/listen.js";
import { createLogger, flushLog } from "./logger.js";
import { resolveModelSource } from "./models/model-source.js";
import type { InvocationRequest, InvocationResult } from "./pipeline/inference-pipeline.js";
import { createRequestListener } from "./protocols/sagemaker/listener.js";

/** A server that is listening; the model may still be loading. */
export interface RunningServer {
  /** `http://host:port` it listens on (loopback address when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  readonly config: ServerConfig;
  readonly log: Logger;
  /** Settles when the model has loaded (or failed to: `/ping` then answers 503 with the reason). */
  readonly loaded: Promise<void>;
  /** What `/ping` reports: true once the model is loaded and a worker can serve. */
  readonly ready: boolean;
  /**
   * Runs one request through the workers, as `/invocations` does, without HTTP: for the async
   * worker. Rejects with `ModelNotReadyError` until the model is loaded.
   */
  invoke(request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), releases the models and stops the workers. */
  close(): Promise<void>;
}

/**
 * A client must send its request headers within this time. The request body is bounded by the
 * invocation time limit instead (Node's own `requestTimeout` would cut it at 300 s regardless).
 */
const headersTimeoutMs = 20_000;

/** The name the single model of a server goes by, in logs and in the worker pool. */
const modelName = "model";

/**
 * Starts the SageMaker-compatible server: listens at once (SageMaker expects connections to be
 * accepted within 250 ms, docs/sagemaker-contract.md), then extracts the model archive if there
 * is one, finds the handlers and loads the model in the workers while `/ping` answers 503.
 *
 * @example
 * ```ts
 * const server = await startServer({ modelDir: "examples/iris/model", port: 0 });
 * await server.loaded;
 * ```
 */
export async function startServer(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Promise<RunningServer> {
  const config = loadConfig(env, overrides);
  const log = createLogger(config.logLevel);
  const pool = new WorkerPool({
    size: config.workers,
    log,
    recycleMs: config.workerRecycleMs,
    setup: { config: { logLevel: config.logLevel, defaultAccept: config.defaultAccept, defaultContentType: config.defaultContentType, onnx: config.onnx, multipart: config.multipart } },
  });
  let failure: Error | undefined;
  const readiness: Readiness = {
    get ready() {
      return pool.serves(modelName);
    },
    get failure() {
      return failure;
    },
  };
  const invoke = (request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> => {
    if (!readiness.ready) return Promise.reject(notReadyError(readiness));
    return pool.invoke(modelName, request, signal, options);
  };
  const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: 0 });
  const connections = new Connections(server, { maxConnections: config.maxConnections, log });
  const listener = createRequestListener({
    connections,
    readiness,
    log,
    timeoutMs: config.timeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConcurrentRequests: config.maxConcurrentRequests,
    maxInFlightBytes: config.maxInFlightBytes,
    // The HTTP layer is done with the body once it is handed over: move it rather than copy it.
    invoke: (request, signal) => invoke(request, signal, { transferBody: true }),
    batch: { config: config.batch, workers: config.workers, signature: () => pool.report(modelName)?.signature },
  });
  server.on("request", listener);
  const { port, url } = await listen(server, config.port, config.host);
  log.info({ port, host: config.host, workers: config.workers, timeoutMs: config.timeoutMs }, "listening");

  const loaded = (async () => {
    try {
      const source = await resolveModelSource({
        name: modelName,
        modelDir: config.modelDir,
        extractDir: config.extractDir,
        archiveLimits: config.archive,
        handlersPath: config.handlersPath,
        sagemakerProgram: config.sagemakerProgram,
        log,
      });
      log.info({ modelDir: source.modelDir, handlersFile: source.handlersFile ?? "(defaults: ONNX model, built-in codecs)" }, "loading model");
      await pool.start();
      await pool.load(source, "all");
      log.info("model loaded; /ping answers 200");
    } catch (error) {
      failure = error as Error;
      log.error({ err: error }, "model load failed; /ping answers 503");
    }
  })();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ timeoutMs: config.shutdownTimeoutMs }, "shutting down: draining in-flight requests");
      await Promise.all([connections.drain(config.shutdownTimeoutMs), loaded]);
      await pool.close(1_000);
      log.info("stopped");
      await flushLog(log);
    })();
    return closing;
  };

  return {
    url,
    port,
    config,
    log,
    loaded,
    get ready() {
      return readiness.ready;
    },
    invoke,
    close,
  };
}
