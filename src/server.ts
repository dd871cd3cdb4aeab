import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { loadConfig, type ConfigOverrides, type ServerConfig } from "./config/server-config.js";
import { ModelNotReadyError } from "./errors.js";
import { findHandlersFile } from "./handlers/handlers-file.js";
import { createLogger, flushLog } from "./logger.js";
import { resolveModelDir } from "./models/artifacts/model-dir.js";
import type { InvocationRequest, InvocationResult } from "./pipeline/inference-pipeline.js";
import { WorkerPool, type InvokeOptions } from "./dispatch/worker-pool.js";
import { createRequestListener, type Readiness } from "./protocols/sagemaker/listener.js";
import { listen } from "./http/listen.js";

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
   * worker and batch transform. Rejects with {@link ModelNotReadyError} until the model is loaded.
   */
  invoke(request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), stops the workers. */
  close(): Promise<void>;
}

/**
 * Starts the SageMaker-compatible server: listens at once (SageMaker expects connections to be
 * accepted within 250 ms, docs/sagemaker-contract.md), then extracts the model archive if there is one,
 * finds the handlers and loads the model in the workers while `/ping` answers 503.
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
  let pool: WorkerPool | undefined;
  let failure: Error | undefined;
  const readiness: Readiness = {
    get ready() {
      return pool?.ready ?? false;
    },
    get failure() {
      return failure ?? pool?.failure;
    },
  };
  const invoke = (request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> => {
    if (pool === undefined) return Promise.reject(new ModelNotReadyError(failure ? `Model failed to load: ${failure.message}` : "Model is loading"));
    return pool.invoke(request, signal, options);
  };
  const listener = createRequestListener({
    readiness,
    log,
    timeoutMs: config.timeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConcurrentRequests: config.maxConcurrentRequests,
    invoke: (request, signal) => invoke(request, signal),
  });
  const server = createServer(listener);
  await listen(server, config.port, config.host);
  const { port } = server.address() as AddressInfo;
  log.info({ port, host: config.host, workers: config.workers, timeoutMs: config.timeoutMs }, "listening");

  const loaded = (async () => {
    try {
      const modelDir = await resolveModelDir({ modelDir: config.modelDir, extractDir: config.extractDir, limits: config.archive, log });
      const handlersFile = await findHandlersFile({
        handlersPath: config.handlersPath,
        sagemakerProgram: config.sagemakerProgram,
        modelDirs: [...new Set([modelDir, config.modelDir])],
      });
      log.info({ modelDir, handlersFile: handlersFile ?? "(defaults: ONNX model, built-in codecs)" }, "loading model");
      pool = new WorkerPool({
        size: config.workers,
        log,
        recycleMs: config.workerRecycleMs,
        setup: { handlersFile, modelDir, config },
      });
      await pool.start();
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
      const deadline = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), loaded]);
      clearTimeout(deadline);
      await pool?.close(1_000);
      log.info("stopped");
      await flushLog(log);
    })();
    return closing;
  };

  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return {
    url: `http://${host}:${port}`,
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
