import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import type { Logger } from "pino";
import { loadConfig, type ConfigOverrides, type ServerConfig } from "./config/server-config.js";
import type { DataPlane } from "./dispatch/data-plane.js";
import { ModelRegistry } from "./dispatch/model-registry.js";
import { SingleModel } from "./dispatch/single-model.js";
import { inlineLaneFactory } from "./dispatch/inline-lane-factory.js";
import { ModelNotFoundError } from "./errors.js";
import { WorkerPool, type InvokeOptions } from "./dispatch/worker-pool.js";
import { Connections } from "./http/connections.js";
import { listen } from "./http/listen.js";
import { createLogger, flushLog } from "./logger.js";
import { resolveModelSource } from "./models/model-source.js";
import type { InvocationRequest, InvocationResult } from "./pipeline/inference-pipeline.js";
import { startMetricsListener } from "./protocols/metrics/endpoint.js";
import { ServerMetrics } from "./protocols/metrics/server-metrics.js";
import { createRequestListener, type FrontDoorOptions } from "./protocols/sagemaker/listener.js";

/** A server that is listening; the model may still be loading. */
export interface RunningServer {
  /** `http://host:port` it listens on (loopback address when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  readonly config: ServerConfig;
  readonly log: Logger;
  /** Settles when the model has loaded (or failed to: `/ping` then answers 503 with the reason). */
  readonly loaded: Promise<void>;
  /** What `/ping` reports: true once the model is loaded and a worker can serve (multi-model: once the workers run). */
  readonly ready: boolean;
  /** Where requests meet the models: what the front doors call. */
  readonly plane: DataPlane;
  /** The models of a multi-model endpoint (`--multi-model`); `undefined` otherwise. */
  readonly registry: ModelRegistry | undefined;
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
  /** The name the single model of a server goes by: in logs, the worker pool, KServe V2 paths and metrics. */
  const modelName = config.modelName;
  const log = createLogger(config.logLevel);
  const runtimeConfig = {
    logLevel: config.logLevel,
    defaultAccept: config.defaultAccept,
    defaultContentType: config.defaultContentType,
    onnx: config.onnx,
    multipart: config.multipart,
    batching: config.batching,
  };
  const pool = new WorkerPool({
    size: config.workers,
    log,
    recycleMs: config.workerRecycleMs,
    setup: { config: runtimeConfig, primeOnnxRuntime: config.multiModel },
  });
  // Loads start once the server listens, after `metrics` below exists.
  const onModelLoad = (name: string, outcome: "success" | "failure"): void => metrics?.modelLoad(name, outcome);
  const single = config.multiModel
    ? undefined
    : new SingleModel(pool, modelName, log, {
        onLoad: onModelLoad,
        ...(config.inlineTinyModels ? { inlineLane: inlineLaneFactory(pool, runtimeConfig, log) } : {}),
      });
  const registry = config.multiModel
    ? new ModelRegistry({
        pool,
        modelsRoot: config.modelsRoot,
        memoryBudgetBytes: config.modelMemoryBudgetBytes,
        extractRoot: join(config.extractDir, "models"),
        archiveLimits: config.archive,
        sagemakerProgram: config.sagemakerProgram,
        fallbackHandlers: config.handlersPath,
        drainMs: config.shutdownTimeoutMs,
        log,
        now: Date.now,
        onModelLoad,
        ...(config.inlineTinyModels ? { inlineLane: inlineLaneFactory(pool, runtimeConfig, log) } : {}),
      })
    : undefined;
  const plane: DataPlane = (single ?? registry) as DataPlane;
  // Front doors beyond SageMaker's (KServe V2, Vertex AI) and metrics, over the same data plane:
  // docs/kserve-v2.md, docs/vertex.md, docs/metrics.md.
  const metrics = config.metrics.enabled ? new ServerMetrics({ models: plane, defaultMetrics: true }) : undefined;
  const separateMetricsPort = metrics !== undefined && config.metrics.safePortRange !== undefined;
  const frontDoors: FrontDoorOptions = {
    defaultModel: single?.name,
    serverVersion: toolkitVersion(),
    vertex: { healthRoute: config.vertex.healthRoute, predictRoute: config.vertex.predictRoute, maxPayloadBytes: config.vertex.maxPayloadBytes },
    metrics,
    serveMetrics: !separateMetricsPort,
  };
  const server = createServer({ headersTimeout: headersTimeoutMs, requestTimeout: 0 });
  const connections = new Connections(server, { maxConnections: config.maxConnections, log });
  const listener = createRequestListener({
    connections,
    plane,
    defaultModel: single?.name,
    registry,
    log,
    timeoutMs: config.timeoutMs,
    streamIdleMs: config.streamIdleTimeoutMs,
    maxPayloadBytes: config.maxPayloadBytes,
    maxConcurrentRequests: config.maxConcurrentRequests,
    maxInFlightBytes: config.maxInFlightBytes,
    frontDoors,
    batch: { config: config.batch, workers: config.workers },
  });
  server.on("request", listener);
  const { port, url } = await listen(server, config.port, config.host);
  log.info({ port, host: config.host, workers: config.workers, timeoutMs: config.timeoutMs, multiModel: config.multiModel }, "listening");
  const metricsListener =
    metrics !== undefined && config.metrics.safePortRange !== undefined
      ? await startMetricsListener(metrics, config.metrics.safePortRange, config.host, log).catch((error: unknown) => {
          server.close();
          throw error;
        })
      : undefined;
  if (metricsListener !== undefined) log.info({ port: metricsListener.port }, "metrics listening on a port of SAGEMAKER_SAFE_PORT_RANGE");

  const loaded =
    registry !== undefined
      ? registry.start().then(
          () => log.info({ modelsRoot: config.modelsRoot, memoryBudgetBytes: config.modelMemoryBudgetBytes }, "multi-model endpoint ready; /ping answers 200"),
          (error: unknown) => log.error({ err: error }, "workers failed to start; /ping answers 503"),
        )
      : (single as SingleModel).start(() =>
          resolveModelSource({
            name: modelName,
            modelDir: config.modelDir,
            extractDir: config.extractDir,
            archiveLimits: config.archive,
            handlersPath: config.handlersPath,
            sagemakerProgram: config.sagemakerProgram,
            log,
          }),
        );
  const invoke = (request: InvocationRequest, signal: AbortSignal, options?: InvokeOptions): Promise<InvocationResult> => {
    if (single === undefined) return Promise.reject(new ModelNotFoundError("A multi-model endpoint runs requests through POST /models/{name}/invoke"));
    return single.invoke(modelName, request, signal, options);
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ timeoutMs: config.shutdownTimeoutMs }, "shutting down: draining in-flight requests");
      await Promise.all([connections.drain(config.shutdownTimeoutMs), loaded, metricsListener?.close()]);
      await pool.close(1_000);
      await single?.close();
      await registry?.close();
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
      return plane.readiness.ready;
    },
    plane,
    registry,
    invoke,
    close,
  };
}

/** This package's version, which KServe V2's server metadata reports. */
function toolkitVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}
