import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultMultipartLimits } from "../codecs/multipart.js";
import { defaultArchiveLimits } from "../models/artifacts/model-archive.js";
import { defaultModelMemoryBudget } from "../models/memory-budget.js";
import { defaultOnnxSessionConfig, type ExecutionProviderName } from "../models/onnx/session-config.js";
import { batchSettingsTree, executionParametersRule, withJobPayloadLimit } from "./batch-settings.js";
import { boolean, integer, listOf, matching, maxTimerSeconds, mediaType, oneOf, portRange, seconds, text } from "./kinds.js";
import { resolveSettings, type Env } from "./resolve.js";
import { defineSettings, flag, setting, type SettingsOverrides, type SettingsRule, type SettingsValues } from "./setting.js";

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Log levels, as pino names them. */
export type LogLevel = (typeof logLevels)[number];

/** The log level of the server and the gateway; SageMaker users set Python's numbers (`20` for INFO). */
export const logLevelSetting = setting({
  kind: oneOf(logLevels, {
    aliases: { "0": "trace", "10": "debug", "20": "info", "30": "warn", "40": "error", "50": "fatal", warning: "warn", critical: "fatal" },
    expected: `one of ${logLevels.join(", ")}, or Python's 10, 20, 30, 40, 50`,
    placeholder: "<level>",
  }),
  env: "SAGEMAKER_CONTAINER_LOG_LEVEL",
  flag: flag("--log-level", ["serve", "gateway", "pipeline"]),
  default: "info",
  description: "log level: `trace`…`fatal`, `silent`, or Python's numbers (`10` debug, `20` info, `30` warn, `40` error)",
});

/** How long SIGTERM waits for work in flight, for the server and the gateway alike. */
export const shutdownTimeoutSetting = setting({
  kind: seconds({ max: maxTimerSeconds }),
  env: "BYOC_SHUTDOWN_TIMEOUT_SECONDS",
  default: 25_000,
  description: "how long SIGTERM waits for in-flight requests (SageMaker kills after 30 s)",
});

const directory = text("a directory", { placeholder: "<dir>" });
const threadCount = integer({ min: 1, max: 1024 });
const providers: readonly ExecutionProviderName[] = ["cuda", "tensorrt", "webgpu", "cpu"];

const workers = setting({
  kind: integer({ min: 1, max: 1024 }),
  env: "SAGEMAKER_MODEL_SERVER_WORKERS",
  flag: flag("--workers", ["serve"]),
  derive: { text: "CPU count − 1, at least 1", from: () => defaultWorkers(availableParallelism()) },
  description: "inference worker threads, each with its own copy of the model; one core stays with the HTTP thread",
});

/**
 * Vertex AI's `AIP_STORAGE_URI`: where it put a copy of the model's artifacts (docs/vertex.md).
 * A local path (or `file://` URI) is the model directory unless one is given; a `gs://` URI is
 * refused by {@link storageUriRule}, since the toolkit does not read Cloud Storage.
 */
const vertexStorageUri = setting({
  kind: text("a local directory or file:// URI (gs:// is explained in docs/vertex.md)", { placeholder: "<uri>" }),
  env: "AIP_STORAGE_URI",
  unset: "none",
  description: "Vertex AI: the model's artifacts; a local path serves as the model directory unless `BYOC_MODEL_DIR` or `--model-dir` names one",
});

const modelDir = setting({
  kind: directory,
  env: "BYOC_MODEL_DIR",
  flag: flag("--model-dir", ["serve"]),
  derive: { text: "`AIP_STORAGE_URI` when it is local, else `/opt/ml/model`", from: (read) => localPath(read(vertexStorageUri)) ?? "/opt/ml/model" },
  description: "model artifacts (read-only)",
});

/** An HTTP path a platform calls, such as Vertex AI's `/predict`. */
const routePath = matching(/^\/[^\s?#]*$/, "an HTTP path such as /predict", { placeholder: "<path>" });

/**
 * Every server setting, declared once: the environment, the flags, code overrides, the README's
 * table and the usage text all come from here.
 */
export const serverSettings = defineSettings({
  port: setting({
    kind: integer({ min: 0, max: 65535 }),
    env: ["SAGEMAKER_BIND_TO_PORT", "AIP_HTTP_PORT"],
    flag: flag("--port", ["serve"]),
    default: 8080,
    description: "TCP port",
  }),
  host: setting({
    kind: text("an interface address", { placeholder: "<addr>" }),
    env: "BYOC_HOST",
    flag: flag("--host", ["serve"]),
    default: "0.0.0.0",
    description: "interface to listen on",
  }),
  modelDir,
  modelName: setting({
    kind: matching(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "1-128 letters, digits, dots, hyphens and underscores, starting with a letter or digit", {
      placeholder: "<name>",
      maxLength: 128,
    }),
    env: "BYOC_MODEL_NAME",
    default: "model",
    description: "the model's name: in KServe V2 paths (`/v2/models/<name>`), logs and metrics",
  }),
  extractDir: setting({
    kind: directory,
    env: "BYOC_EXTRACT_DIR",
    derive: { text: "`$TMPDIR/sagemaker-byoc-model`", from: () => join(tmpdir(), "sagemaker-byoc-model") },
    description: "where a `model.tar.gz` found in the model directory is unpacked",
  }),
  handlersPath: setting({
    kind: text("a file", { placeholder: "<file>" }),
    env: "BYOC_HANDLERS",
    flag: flag("--handlers", ["serve"]),
    unset: "`<model-dir>/code/inference.*`",
    description: "handlers file, .ts or .js",
  }),
  sagemakerProgram: setting({
    kind: text("a file name", { placeholder: "<file>" }),
    env: "SAGEMAKER_PROGRAM",
    unset: "`inference.*`",
    description: "handlers file name under `<model-dir>/code/`",
  }),
  workers,
  timeoutMs: setting({
    kind: seconds({ max: maxTimerSeconds }),
    env: "SAGEMAKER_MODEL_SERVER_TIMEOUT",
    flag: flag("--timeout", ["serve"]),
    default: 60_000,
    description: "time limit of one request, **in seconds** (the Python toolkit's MMS read it as minutes in places; here it is seconds)",
  }),
  streamIdleTimeoutMs: setting({
    kind: seconds({ max: maxTimerSeconds }),
    env: "BYOC_STREAM_IDLE_TIMEOUT_SECONDS",
    default: 30_000,
    description: "a streamed answer's longest gap between two chunks, **in seconds**; the whole stream stays within the time limit of one request",
  }),
  maxPayloadBytes: setting({
    kind: integer({ min: 1, unit: "bytes" }),
    env: "BYOC_MAX_PAYLOAD_BYTES",
    flag: flag("--max-payload-bytes", ["serve"]),
    default: 6 * 1024 * 1024,
    description: "largest request body (a batch job's `SAGEMAKER_MAX_PAYLOAD_IN_MB` raises it)",
  }),
  maxConcurrentRequests: setting({
    kind: integer({ min: 1, max: 1_000_000 }),
    env: "BYOC_MAX_CONCURRENT_REQUESTS",
    default: 256,
    description: "requests in flight or queued before 503",
  }),
  maxInFlightBytes: setting({
    kind: integer({ min: 1, unit: "bytes" }),
    env: "BYOC_MAX_IN_FLIGHT_BYTES",
    default: 256 * 1024 * 1024,
    description: "request bodies in flight, in bytes; past it, new requests wait unread (TCP back-pressure) within their time limit",
  }),
  maxConnections: setting({
    kind: integer({ min: 1, max: 1_000_000 }),
    env: "BYOC_MAX_CONNECTIONS",
    default: 4096,
    description: "open connections; past it the longest-idle one is closed, or the new one refused with 503 when all are busy",
  }),
  defaultAccept: setting({
    kind: mediaType(),
    env: "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT",
    default: "application/json",
    description: "response type for a missing or `*/*` Accept (must have a codec)",
  }),
  defaultContentType: setting({
    kind: mediaType(),
    env: "BYOC_DEFAULT_CONTENT_TYPE",
    default: "application/json",
    description: "request type for a missing Content-Type",
  }),
  logLevel: logLevelSetting,
  shutdownTimeoutMs: shutdownTimeoutSetting,
  workerRecycleMs: setting({
    kind: seconds({ max: maxTimerSeconds }),
    env: "BYOC_WORKER_RECYCLE_SECONDS",
    default: 5_000,
    description: "how long a worker may keep running a timed-out request before it is probed, and replaced if a run blocks it",
  }),
  onnx: {
    executionProviders: setting({
      kind: listOf(providers),
      env: "BYOC_ONNX_PROVIDERS",
      flag: flag("--providers", ["serve"]),
      default: defaultOnnxSessionConfig.executionProviders,
      description: "ONNX execution providers in order of preference",
    }),
    deviceId: setting({
      kind: integer({ min: 0, max: 1024 }),
      env: "BYOC_ONNX_DEVICE_ID",
      default: defaultOnnxSessionConfig.deviceId,
      description: "GPU for `cuda` and `tensorrt`",
    }),
    intraOpNumThreads: setting({
      kind: threadCount,
      env: "BYOC_ONNX_INTRA_OP_THREADS",
      derive: { text: "CPU count ÷ workers", from: (read) => defaultIntraOpThreads(read(workers)) },
      description: "ONNX Runtime intra-op threads per session",
    }),
    interOpNumThreads: setting({
      kind: threadCount,
      env: "BYOC_ONNX_INTER_OP_THREADS",
      unset: "ONNX Runtime's",
      description: "ONNX Runtime inter-op threads (parallel execution mode)",
    }),
    graphOptimizationLevel: setting({
      kind: oneOf(["disabled", "basic", "extended", "all"]),
      env: "BYOC_ONNX_GRAPH_OPTIMIZATION",
      default: defaultOnnxSessionConfig.graphOptimizationLevel,
      description: "graph optimisations applied when a session is created",
    }),
    executionMode: setting({
      kind: oneOf(["sequential", "parallel"]),
      env: "BYOC_ONNX_EXECUTION_MODE",
      default: defaultOnnxSessionConfig.executionMode,
      description: "`parallel` runs independent branches of the graph concurrently",
    }),
    enableCpuMemArena: setting({
      kind: boolean(),
      env: "BYOC_ONNX_CPU_MEM_ARENA",
      default: defaultOnnxSessionConfig.enableCpuMemArena,
      description: "CPU memory arena",
    }),
    enableMemPattern: setting({
      kind: boolean(),
      env: "BYOC_ONNX_MEM_PATTERN",
      default: defaultOnnxSessionConfig.enableMemPattern,
      description: "memory pattern optimisation",
    }),
    allowSpinning: setting({
      kind: boolean(),
      env: "BYOC_ONNX_ALLOW_SPINNING",
      default: defaultOnnxSessionConfig.allowSpinning,
      description: "let ONNX Runtime's thread pools spin between runs (a core busy while idle, which the HTTP thread and other workers then lack)",
    }),
    warmUp: setting({
      kind: boolean(),
      env: "BYOC_ONNX_WARM_UP",
      default: defaultOnnxSessionConfig.warmUp,
      description: "one run with zeros per session before `/ping` turns 200",
    }),
  },
  multiModel: setting({
    kind: boolean(),
    env: "SAGEMAKER_MULTI_MODEL",
    flag: flag("--multi-model", ["serve"], { sets: true }),
    default: false,
    description:
      "multi-model endpoint: serve the `/models` API (load, list, describe, unload, invoke) for models under the models root; SageMaker sets it for an image labelled for multi-model endpoints",
  }),
  modelsRoot: setting({
    kind: directory,
    env: "BYOC_MODELS_ROOT",
    flag: flag("--models-root", ["serve"]),
    default: "/opt/ml/models",
    description: "multi-model mode: the only directory `POST /models` may load from",
  }),
  modelMemoryBudgetBytes: setting({
    kind: integer({ min: 1, unit: "bytes" }),
    env: "BYOC_MODEL_MEMORY_BUDGET_BYTES",
    derive: { text: "60% of the container's cgroup memory limit, or of the machine's memory", from: () => defaultModelMemoryBudget() },
    description: "multi-model mode: memory the loaded models may use together, as measured at each load; past it idle models are unloaded, least recently used first, and a model that still does not fit is a 507",
  }),
  batching: {
    maxBatchSize: setting({
      kind: integer({ min: 1, max: 4096 }),
      env: "BYOC_BATCH_MAX_SIZE",
      default: 32,
      description:
        "dynamic batching of ONNX models: most rows merged into one run; `1` turns it off. Only models whose inputs and outputs share a variable first dimension, and whose rows prove independent at load, are batched",
    }),
    maxDelayMs: setting({
      kind: integer({ min: 0, max: 60_000, unit: "ms" }),
      env: "BYOC_BATCH_MAX_DELAY_MS",
      default: 0,
      description: "how long the first request of a batch may wait for more, in milliseconds; `0` merges only requests already waiting, so it adds no latency",
    }),
  },
  archive: {
    maxBytes: setting({
      kind: integer({ min: 1, unit: "bytes" }),
      env: "BYOC_ARCHIVE_MAX_BYTES",
      default: defaultArchiveLimits.maxBytes,
      description: "largest unpacked `model.tar.gz`",
    }),
    maxEntries: setting({
      kind: integer({ min: 1 }),
      env: "BYOC_ARCHIVE_MAX_ENTRIES",
      default: defaultArchiveLimits.maxEntries,
      description: "most entries in `model.tar.gz`",
    }),
    maxExpansionRatio: setting({
      kind: integer({ min: 1 }),
      env: "BYOC_ARCHIVE_MAX_EXPANSION_RATIO",
      default: defaultArchiveLimits.maxExpansionRatio,
      description: "most bytes `model.tar.gz` may unpack to per byte of the archive, past the first 64 MiB (a decompression bomb's bound)",
    }),
  },
  vertex: {
    healthRoute: setting({
      kind: routePath,
      env: "AIP_HEALTH_ROUTE",
      unset: "none (`/ping` answers health checks)",
      description: "Vertex AI: the health check path, answered as `/ping` is",
    }),
    predictRoute: setting({
      kind: routePath,
      env: "AIP_PREDICT_ROUTE",
      unset: "none",
      description: 'Vertex AI: the prediction path, `{"instances": [...], "parameters": {...}}` in, `{"predictions": [...]}` out',
    }),
    storageUri: vertexStorageUri,
    maxPayloadBytes: setting({
      kind: integer({ min: 1, unit: "bytes" }),
      env: "BYOC_VERTEX_MAX_PAYLOAD_BYTES",
      default: 1.5 * 1024 * 1024,
      description: "largest Vertex AI prediction request: a shared public endpoint's 1.5 MB, read generously; endpoints that take 10 MB (dedicated, private) need more",
    }),
  },
  metrics: {
    enabled: setting({
      kind: boolean(),
      env: "BYOC_METRICS",
      default: true,
      description: "Prometheus metrics at `GET /metrics`",
    }),
    safePortRange: setting({
      kind: portRange(),
      env: "SAGEMAKER_SAFE_PORT_RANGE",
      unset: "none: `/metrics` is on the serving port",
      description: "ports the container may listen on besides the serving port; `/metrics` then moves to the first free one",
    }),
  },
  multipart: {
    maxFiles: setting({
      kind: integer({ min: 0, max: 1_000_000 }),
      env: "BYOC_MULTIPART_MAX_FILES",
      default: defaultMultipartLimits.maxFiles,
      description: "files in one multipart body",
    }),
    maxFileBytes: setting({
      kind: integer({ min: 1, unit: "bytes" }),
      env: "BYOC_MULTIPART_MAX_FILE_BYTES",
      default: defaultMultipartLimits.maxFileBytes,
      description: "size of one uploaded file (a batch job's `SAGEMAKER_MAX_PAYLOAD_IN_MB` raises it)",
    }),
    maxFields: setting({
      kind: integer({ min: 0, max: 1_000_000 }),
      env: "BYOC_MULTIPART_MAX_FIELDS",
      default: defaultMultipartLimits.maxFields,
      description: "non-file fields in one multipart body",
    }),
  },
  batch: batchSettingsTree,
}, [storageUriRule(), executionParametersRule]);

/**
 * Every setting of the server. {@link loadConfig} fills it from defaults, the environment and
 * overrides (code or CLI flags), in that order of precedence. The README's settings table lists
 * each with its variable, flag, accepted values and default.
 *
 * @example
 * ```ts
 * const config: ServerConfig = loadConfig(process.env, { port: 9000 });
 * config.timeoutMs; // 60000 unless SAGEMAKER_MODEL_SERVER_TIMEOUT says otherwise
 * ```
 */
export type ServerConfig = SettingsValues<typeof serverSettings.tree>;

/**
 * Settings a caller (tests, embedding code) may override, at any depth; `undefined` leaves a
 * setting to the environment. Durations are in milliseconds here (`timeoutMs`).
 *
 * @example
 * ```ts
 * const overrides: ConfigOverrides = { workers: 2, onnx: { executionProviders: ["cuda", "cpu"] } };
 * ```
 */
export type ConfigOverrides = SettingsOverrides<typeof serverSettings.tree>;

/**
 * Reads the environment, applies `overrides` on top and validates everything, throwing one
 * {@link ConfigurationError} that names each invalid setting (the variable, or the option for an
 * override) and what it accepts. A batch job's payload limit then raises the body limits
 * (`withJobPayloadLimit`, docs/batch.md).
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, { modelDir: "./model" });
 * ```
 */
export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): ServerConfig {
  return withJobPayloadLimit(resolveSettings(serverSettings, { env, overrides }));
}

/**
 * The configuration with no environment and no overrides: the documented defaults on this machine.
 *
 * @example
 * ```ts
 * defaultConfig.port; // 8080
 * ```
 */
export const defaultConfig: ServerConfig = loadConfig({});

/**
 * A `gs://` (or other remote) `AIP_STORAGE_URI` cannot be the model directory: Vertex AI gives the
 * container the location of its copy of the artifacts, not the files, and the toolkit has no
 * Cloud Storage client (docs/vertex.md). Naming a local model directory settles it.
 */
function storageUriRule(): SettingsRule {
  return ({ read, given, isSet }) => {
    const uri = read(vertexStorageUri);
    if (uri === undefined || isSet(modelDir) || localPath(uri) !== undefined) return undefined;
    return (
      `${given(vertexStorageUri)} is a remote location, which the toolkit does not read: bake the model into the image ` +
      "(sagemaker-byoc build --model) and deploy without an artifact URI, or copy the artifacts to a local directory before serving " +
      "and name it with BYOC_MODEL_DIR (docs/vertex.md)"
    );
  };
}

/** The local directory an `AIP_STORAGE_URI` names (a path or a `file://` URI), or `undefined` for a remote one. */
function localPath(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  if (uri.startsWith("file://")) {
    try {
      return fileURLToPath(uri);
    } catch {
      return undefined;
    }
  }
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? undefined : uri;
}

/**
 * One core stays with the HTTP thread, which parses, logs and writes every request: with a fast
 * model on 2 cores, two workers starved it (`npm run bench`: a median 58% of the minimal server
 * at c=8, against 66% with one). Each worker's session still gets the cores' share of intra-op
 * threads. Heavy models under concurrent load do better with one worker per core; the README
 * says so and how to set it.
 */
function defaultWorkers(cores: number): number {
  return Math.max(1, cores - 1);
}

/**
 * ONNX Runtime's intra-op pool defaults to one thread per physical core in every session; with
 * one session per worker that oversubscribes the CPU (docs/onnx-runtime.md), so split the cores.
 */
function defaultIntraOpThreads(workers: number): number {
  return Math.max(1, Math.floor(availableParallelism() / workers));
}
