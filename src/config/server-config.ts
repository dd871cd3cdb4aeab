import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigurationError } from "../errors.js";
import { EnvReader, parseList, type Env } from "./env-reader.js";
import type { ArchiveLimits } from "../models/artifacts/model-archive.js";
import type { MultipartLimits } from "../codecs/multipart.js";
import { defaultOnnxSessionConfig, type ExecutionProviderName, type OnnxSessionConfig } from "../models/onnx/session-config.js";

/** Log levels, as pino names them. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/**
 * Every setting of the server. {@link loadConfig} fills it from defaults, the environment and
 * CLI flags, in that order of precedence (flags win). The README's settings table lists each.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, { port: 9000 });
 * ```
 */
export interface ServerConfig {
  /** TCP port. `SAGEMAKER_BIND_TO_PORT`, `--port`; default 8080. */
  readonly port: number;
  /** Interface to listen on. `BYOC_HOST`, `--host`; default `0.0.0.0`. */
  readonly host: string;
  /** Where the model artifacts are. `BYOC_MODEL_DIR`, `--model-dir`; default `/opt/ml/model`. */
  readonly modelDir: string;
  /** Where a `model.tar.gz` found in the model directory is extracted. `BYOC_EXTRACT_DIR`. */
  readonly extractDir: string;
  /** Handlers file; `undefined` looks in `<model dir>/code/` (see README). `--handlers`. */
  readonly handlersPath: string | undefined;
  /** `SAGEMAKER_PROGRAM`: handlers file name under `<model dir>/code/`. */
  readonly sagemakerProgram: string | undefined;
  /** Inference worker threads. `SAGEMAKER_MODEL_SERVER_WORKERS`, `--workers`; default: CPU count - 1, at least 1. */
  readonly workers: number;
  /** Time limit of one `/invocations` request, in milliseconds. Set in seconds by `SAGEMAKER_MODEL_SERVER_TIMEOUT` or `--timeout`. */
  readonly timeoutMs: number;
  /** Largest request body in bytes. `BYOC_MAX_PAYLOAD_BYTES`, `--max-payload-bytes`; default 6 MiB. */
  readonly maxPayloadBytes: number;
  /** Requests in flight or queued before new ones get 503. `BYOC_MAX_CONCURRENT_REQUESTS`. */
  readonly maxConcurrentRequests: number;
  /** Request bodies in flight, in bytes; past it, requests wait unread. `BYOC_MAX_IN_FLIGHT_BYTES`; default 256 MiB. */
  readonly maxInFlightBytes: number;
  /** Open connections; past it the longest-idle one is closed, or the new one refused with 503. `BYOC_MAX_CONNECTIONS`; default 4096. */
  readonly maxConnections: number;
  /** Response type for a missing or `*\/*` Accept. `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`. */
  readonly defaultAccept: string;
  /** Request type assumed for a missing Content-Type. `BYOC_DEFAULT_CONTENT_TYPE`. */
  readonly defaultContentType: string;
  /** `SAGEMAKER_CONTAINER_LOG_LEVEL` (names or Python's numeric levels), `--log-level`. */
  readonly logLevel: LogLevel;
  /** How long SIGTERM waits for in-flight requests, in milliseconds (`BYOC_SHUTDOWN_TIMEOUT_SECONDS`). */
  readonly shutdownTimeoutMs: number;
  /** How long a worker may overrun the time limit before it is replaced, in milliseconds (`BYOC_WORKER_RECYCLE_SECONDS`). */
  readonly workerRecycleMs: number;
  /** ONNX Runtime session settings (`BYOC_ONNX_*`). */
  readonly onnx: OnnxSessionConfig;
  /** Limits for `model.tar.gz` extraction (`BYOC_ARCHIVE_*`). */
  readonly archive: Partial<ArchiveLimits>;
  /** Limits for multipart/form-data bodies (`BYOC_MULTIPART_*`). */
  readonly multipart: Partial<MultipartLimits>;
}

/** Settings a caller (CLI flags, tests, embedding code) may override. */
export type ConfigOverrides = { -readonly [K in Exclude<keyof ServerConfig, "onnx">]?: ServerConfig[K] | undefined } & {
  onnx?: Partial<OnnxSessionConfig>;
};

const MiB = 1024 * 1024;

/** The defaults, before the environment and flags. */
export const defaultConfig: ServerConfig = {
  port: 8080,
  host: "0.0.0.0",
  modelDir: "/opt/ml/model",
  extractDir: join(tmpdir(), "sagemaker-byoc-model"),
  handlersPath: undefined,
  sagemakerProgram: undefined,
  workers: defaultWorkers(availableParallelism()),
  timeoutMs: 60_000,
  maxPayloadBytes: 6 * MiB,
  maxConcurrentRequests: 256,
  maxInFlightBytes: 256 * MiB,
  maxConnections: 4096,
  defaultAccept: "application/json",
  defaultContentType: "application/json",
  logLevel: "info",
  shutdownTimeoutMs: 25_000,
  workerRecycleMs: 5_000,
  onnx: defaultOnnxSessionConfig,
  archive: {},
  multipart: {},
};

const logLevels: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
const pythonLogLevels: Readonly<Record<string, LogLevel>> = {
  "0": "trace",
  "10": "debug",
  "20": "info",
  "30": "warn",
  "40": "error",
  "50": "fatal",
  warning: "warn",
  critical: "fatal",
};
const providers: readonly ExecutionProviderName[] = ["cuda", "tensorrt", "webgpu", "cpu"];
const optimizationLevels = ["disabled", "basic", "extended", "all"] as const;
const executionModes = ["sequential", "parallel"] as const;

/**
 * Reads the environment, applies `overrides` on top and validates everything, throwing a
 * {@link ConfigurationError} that names the variable and the accepted values. This is the only
 * place that reads environment variables.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env, { modelDir: "./model" });
 * ```
 */
export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): ServerConfig {
  const read = new EnvReader(env);
  const fromEnv: ServerConfig = {
    port: read.integer("SAGEMAKER_BIND_TO_PORT", defaultConfig.port, 0, 65535),
    host: read.string("BYOC_HOST", defaultConfig.host),
    modelDir: read.string("BYOC_MODEL_DIR", defaultConfig.modelDir),
    extractDir: read.string("BYOC_EXTRACT_DIR", defaultConfig.extractDir),
    handlersPath: read.optionalString("BYOC_HANDLERS"),
    sagemakerProgram: read.optionalString("SAGEMAKER_PROGRAM"),
    workers: read.integer("SAGEMAKER_MODEL_SERVER_WORKERS", defaultConfig.workers, 1, 1024),
    timeoutMs: read.seconds("SAGEMAKER_MODEL_SERVER_TIMEOUT", defaultConfig.timeoutMs),
    maxPayloadBytes: read.integer("BYOC_MAX_PAYLOAD_BYTES", defaultConfig.maxPayloadBytes, 1, Number.MAX_SAFE_INTEGER),
    maxConcurrentRequests: read.integer("BYOC_MAX_CONCURRENT_REQUESTS", defaultConfig.maxConcurrentRequests, 1, 1_000_000),
    maxInFlightBytes: read.integer("BYOC_MAX_IN_FLIGHT_BYTES", defaultConfig.maxInFlightBytes, 1, Number.MAX_SAFE_INTEGER),
    maxConnections: read.integer("BYOC_MAX_CONNECTIONS", defaultConfig.maxConnections, 1, 1_000_000),
    defaultAccept: read.mediaType("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", defaultConfig.defaultAccept),
    defaultContentType: read.mediaType("BYOC_DEFAULT_CONTENT_TYPE", defaultConfig.defaultContentType),
    logLevel: parseLogLevel("SAGEMAKER_CONTAINER_LOG_LEVEL", env["SAGEMAKER_CONTAINER_LOG_LEVEL"]) ?? defaultConfig.logLevel,
    shutdownTimeoutMs: read.seconds("BYOC_SHUTDOWN_TIMEOUT_SECONDS", defaultConfig.shutdownTimeoutMs),
    workerRecycleMs: read.seconds("BYOC_WORKER_RECYCLE_SECONDS", defaultConfig.workerRecycleMs),
    onnx: {
      ...defaultOnnxSessionConfig,
      executionProviders: read.list("BYOC_ONNX_PROVIDERS", providers) ?? defaultOnnxSessionConfig.executionProviders,
      deviceId: read.integer("BYOC_ONNX_DEVICE_ID", defaultOnnxSessionConfig.deviceId, 0, 1024),
      ...optional("intraOpNumThreads", read.optionalInteger("BYOC_ONNX_INTRA_OP_THREADS", 1, 1024)),
      ...optional("interOpNumThreads", read.optionalInteger("BYOC_ONNX_INTER_OP_THREADS", 1, 1024)),
      graphOptimizationLevel: read.choice("BYOC_ONNX_GRAPH_OPTIMIZATION", optimizationLevels, defaultOnnxSessionConfig.graphOptimizationLevel),
      executionMode: read.choice("BYOC_ONNX_EXECUTION_MODE", executionModes, defaultOnnxSessionConfig.executionMode),
      enableCpuMemArena: read.boolean("BYOC_ONNX_CPU_MEM_ARENA", defaultOnnxSessionConfig.enableCpuMemArena),
      enableMemPattern: read.boolean("BYOC_ONNX_MEM_PATTERN", defaultOnnxSessionConfig.enableMemPattern),
      warmUp: read.boolean("BYOC_ONNX_WARM_UP", defaultOnnxSessionConfig.warmUp),
    },
    archive: {
      ...optional("maxBytes", read.optionalInteger("BYOC_ARCHIVE_MAX_BYTES", 1, Number.MAX_SAFE_INTEGER)),
      ...optional("maxEntries", read.optionalInteger("BYOC_ARCHIVE_MAX_ENTRIES", 1, Number.MAX_SAFE_INTEGER)),
    },
    multipart: {
      ...optional("maxFiles", read.optionalInteger("BYOC_MULTIPART_MAX_FILES", 0, 1_000_000)),
      ...optional("maxFileBytes", read.optionalInteger("BYOC_MULTIPART_MAX_FILE_BYTES", 1, Number.MAX_SAFE_INTEGER)),
      ...optional("maxFields", read.optionalInteger("BYOC_MULTIPART_MAX_FIELDS", 0, 1_000_000)),
    },
  };
  const { onnx: onnxOverrides = {}, ...rest } = overrides;
  const merged = { ...fromEnv } as Record<string, unknown>;
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) merged[key] = value;
  const config = { ...(merged as unknown as ServerConfig), onnx: { ...fromEnv.onnx, ...onnxOverrides } };
  const intraOpNumThreads = config.onnx.intraOpNumThreads ?? defaultIntraOpThreads(config.workers);
  return { ...config, onnx: { ...config.onnx, intraOpNumThreads } };
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

/**
 * Parses a log level name or one of Python's numeric levels, which SageMaker users set in
 * `SAGEMAKER_CONTAINER_LOG_LEVEL` (e.g. `20` for INFO).
 *
 * @example
 * ```ts
 * parseLogLevel("--log-level", "20"); // "info"
 * ```
 */
export function parseLogLevel(source: string, value: string | undefined): LogLevel | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const normalised = value.trim().toLowerCase();
  const level = pythonLogLevels[normalised] ?? logLevels.find((name) => name === normalised);
  if (level === undefined) {
    throw new ConfigurationError(
      `${source}=${JSON.stringify(value)} is not a log level; use one of ${logLevels.join(", ")} or 10, 20, 30, 40, 50`,
    );
  }
  return level;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

export { parseList };

/** Execution provider names, for flag parsing. */
export const executionProviderNames = providers;
