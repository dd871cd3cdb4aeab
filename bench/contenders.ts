/**
 * The servers of the matrix, each started fresh for one model and request kind, one at a time
 * (the cores are never shared between two servers), and what each ran with.
 */
import { existsSync, realpathSync } from "node:fs";
import { allocatorEnvironment } from "../src/build/dockerfile.js";
import { loadConfig } from "../src/config/server-config.js";
import { baselineSessionOptions } from "./baseline.js";
import { freePort, startNodeServer, type ChildServer } from "./processes.js";
import { pythonStackSettings, startPythonStack } from "./python/stack.js";
import { modelPaths, ocrHandlersPath, type BenchModel, type RequestSpec } from "./workloads.js";

/**
 * A toolkit configuration: `node dist/cli.js serve` with these environment variables added.
 * A batching row is one more entry: `{ name: "toolkit+batching", env: { BYOC_BATCH_MAX_SIZE: "64" } }`.
 *
 * @example
 * ```ts
 * const variant: ToolkitVariant = { name: "toolkit, 2 workers", env: { SAGEMAKER_MODEL_SERVER_WORKERS: "2" } };
 * ```
 */
export interface ToolkitVariant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * One server of the matrix.
 *
 * @example
 * ```ts
 * const server = await contender.start(model, request, await freePort());
 * ```
 */
export interface Contender {
  readonly name: string;
  readonly kind: "minimal" | "toolkit" | "python";
  /** Why it cannot serve `model`, or undefined when it can. */
  skipReason(model: BenchModel): string | undefined;
  start(model: BenchModel, request: RequestSpec): Promise<StartedServer>;
  /** The threads and processes it runs with, for the report. */
  readonly settings: string;
  /**
   * JavaScript worker threads its one Node.js process starts before any model loads, which is
   * how its CPU is split by thread (bench/thread-cpu.ts); undefined for a server of several
   * processes, whose CPU is counted as a whole.
   */
  readonly javascriptWorkers?: number;
}

/**
 * A started contender and the command line that started it.
 *
 * @example
 * ```ts
 * const { server, command } = await contender.start(model, request);
 * ```
 */
export interface StartedServer {
  readonly server: ChildServer;
  readonly command: string;
}

const tsx = ["--import", "tsx"];

/**
 * The bare `node:http` server with one session on its main thread.
 *
 * @example
 * ```ts
 * const minimal = minimalContender(defaultVariant);
 * ```
 */
export function minimalContender(sessionEnv: Readonly<Record<string, string>>): Contender {
  return {
    name: "minimal node:http",
    kind: "minimal",
    skipReason: () => undefined,
    async start(model, request) {
      const port = await freePort();
      const args = [...tsx, "bench/minimal-server.ts", String(port), model.id, request.kind];
      return { server: await startNodeServer(args, port, sessionEnv), command: `node ${args.join(" ")}` };
    },
    settings: `one process, requests and session.run on the main thread; ${describeSessionOptions(sessionEnv)}`,
    // tsx (`--import tsx`) runs its module hooks on a worker thread of their own, started first.
    javascriptWorkers: 1,
  };
}

/**
 * The toolkit, `node [nodeArgs] dist/cli.js serve`, with the variant's environment.
 *
 * @example
 * ```ts
 * const toolkit = toolkitContender({ name: "toolkit", env: {} });
 * ```
 */
export function toolkitContender(variant: ToolkitVariant, nodeArgs: readonly string[] = []): Contender {
  return {
    name: variant.name,
    kind: "toolkit",
    skipReason: () => undefined,
    async start(model, request) {
      const port = await freePort();
      const args = [...nodeArgs, "dist/cli.js", "serve", ...toolkitServeArgs(model, request), "--host", "127.0.0.1", "--port", String(port)];
      // As the generated image runs it: with its malloc setting (docs/memory.md).
      const env = { ...allocatorEnvironment, ...variant.env };
      const assignments = Object.entries(env).map(([name, value]) => `${name}=${value} `);
      return { server: await startNodeServer(args, port, env), command: `${assignments.join("")}node ${args.join(" ")}` };
    },
    settings: describeToolkit(variant.env),
    javascriptWorkers: loadConfig({ ...process.env, ...variant.env }).workers,
  };
}

/**
 * nginx → gunicorn → Flask with numpy (bench/python/).
 *
 * @example
 * ```ts
 * const python = pythonContender();
 * ```
 */
export function pythonContender(): Contender {
  const settings = pythonStackSettings();
  return {
    name: "Python: nginx → gunicorn → Flask + numpy",
    kind: "python",
    skipReason: (model) => (model.python === true ? undefined : model.python.skipped),
    async start(model) {
      const port = await freePort();
      return {
        server: await startPythonStack(modelPaths(model.id).numpyDir, port),
        command: `nginx (1 worker) → gunicorn -w ${settings.gunicornWorkers} -k ${settings.workerClass} bench/python/app.py`,
      };
    },
    settings:
      `${settings.gunicornWorkers} gunicorn ${settings.workerClass} worker processes (one per core), each with ` +
      `${Object.entries(settings.blasThreads)
        .map(([name, value]) => `${name}=${value}`)
        .join(" ")}; ${settings.nginxWorkers} nginx worker; numpy on ${blasLibrary()}`,
  };
}

/**
 * `serve` arguments for a model and request kind: the OCR example's handlers for image requests,
 * the model directory alone (built-in codecs) otherwise.
 *
 * @example
 * ```ts
 * toolkitServeArgs(benchModel("iris"), json1); // ["--model-dir", "<repo>/examples/iris/model"]
 * ```
 */
export function toolkitServeArgs(model: BenchModel, request: RequestSpec): string[] {
  const modelDir = ["--model-dir", modelPaths(model.id).modelDir];
  return request.viaHandlers === true ? [...modelDir, "--handlers", ocrHandlersPath] : modelDir;
}

/**
 * The toolkit's thread settings under `env` (its resolved configuration), and any batching or
 * inline-execution setting it has.
 *
 * @example
 * ```ts
 * describeToolkit({}); // "1 worker thread beside the HTTP thread; ONNX intra-op threads 2, ...; the generated image's MALLOC_MMAP_THRESHOLD_=131072"
 * ```
 */
export function describeToolkit(env: Readonly<Record<string, string>>): string {
  const config = loadConfig({ ...process.env, ...env });
  const extra = flatten(config)
    .filter(([key]) => /batching|inline|spin|queue/i.test(key))
    .map(([key, value]) => `${key} ${JSON.stringify(value)}`);
  const onnx = config.onnx;
  return [
    `${config.workers} worker thread${config.workers === 1 ? "" : "s"} beside the HTTP thread`,
    `ONNX intra-op threads ${onnx.intraOpNumThreads ?? "default"}, inter-op ${onnx.interOpNumThreads ?? "default"}, ${onnx.executionMode}, graph ${onnx.graphOptimizationLevel}`,
    ...extra,
    `the generated image's ${Object.entries(allocatorEnvironment).map(([name, value]) => `${name}=${value}`).join(" ")}`,
  ].join("; ");
}

/**
 * The ONNX session options of the baselines under `env`: the toolkit's own.
 *
 * @example
 * ```ts
 * describeSessionOptions({}); // "ONNX intra-op threads 2, inter-op default, sequential, graph all"
 * ```
 */
export function describeSessionOptions(env: Readonly<Record<string, string>>): string {
  const options = baselineSessionOptions({ ...process.env, ...env });
  return `ONNX intra-op threads ${options.intraOpNumThreads ?? "default"}, inter-op ${options.interOpNumThreads ?? "default"}, ${options.executionMode}, graph ${options.graphOptimizationLevel}`;
}

function flatten(value: unknown, prefix = ""): [string, unknown][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix === "" ? key : `${prefix}.${key}`));
}

/** The BLAS numpy loads through Debian's alternatives, e.g. "OpenBLAS (/usr/lib/.../openblas-pthread/libblas.so.3)". */
function blasLibrary(): string {
  const link = "/usr/lib/x86_64-linux-gnu/libblas.so.3";
  if (!existsSync(link)) return "an unknown BLAS";
  const target = realpathSync(link);
  if (target.includes("openblas")) return `OpenBLAS (${target})`;
  if (target.includes("blis")) return `BLIS (${target})`;
  return `the reference BLAS (${target})`;
}
