import { access, readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Codec } from "../codecs/codec.js";
import { ConfigurationError } from "../errors.js";
import { isBatching } from "../pipeline/stages/stage.js";
import { isComposedStages } from "../pipeline/stages/stage-pipeline.js";
import type { Handlers } from "./types.js";

const handlerNames = ["modelFn", "inputFn", "predictFn", "outputFn", "transformFn", "warmUpFn", "unloadFn"] as const;
const pythonNames: Readonly<Record<string, string>> = {
  model_fn: "modelFn",
  input_fn: "inputFn",
  predict_fn: "predictFn",
  output_fn: "outputFn",
  transform_fn: "transformFn",
};
/** The handlers file names looked for in a `code/` folder, first match wins (`build` looks for the same). */
export const conventionalHandlersFiles: readonly string[] = ["inference.ts", "inference.mts", "inference.js", "inference.mjs", "inference.cjs"];
const typeScriptExtension = /\.[cm]?ts$/;

/**
 * Where to look for the handlers file, in order (see the README, "Where the handlers file is found").
 *
 * @example
 * ```ts
 * const search: HandlersSearch = { handlersPath: undefined, sagemakerProgram: undefined, modelDirs: ["/opt/ml/model"], projectDir: "/work/app" };
 * ```
 */
export interface HandlersSearch {
  /** An explicit path (`--handlers`, `BYOC_HANDLERS`), relative to the working directory. */
  readonly handlersPath: string | undefined;
  /** `SAGEMAKER_PROGRAM`: a file name under the `code/` folders below. */
  readonly sagemakerProgram: string | undefined;
  /** Model directories whose `code/` folder is searched after the project's. */
  readonly modelDirs: readonly string[];
  /**
   * The project whose `code/` folder is searched first, as `build` reads it: the working
   * directory unless given. In an image `build` made, the working directory is `/opt/program`,
   * where the compiled handlers sit in `code/`.
   */
  readonly projectDir?: string;
}

/**
 * Finds the handlers file: the explicit path, else `SAGEMAKER_PROGRAM` under a `code/` folder,
 * else `code/inference.{ts,mts,js,mjs,cjs}`; the `code/` folders are the project's (the working
 * directory), then each model directory's, the places `build` looks in too, so a local `serve`
 * and the image run the same handlers. Returns `undefined` when there is none, so the defaults
 * serve the ONNX model.
 *
 * @example
 * ```ts
 * await findHandlersFile({ handlersPath: undefined, sagemakerProgram: "serve.ts", modelDirs: ["/opt/ml/model"] });
 * // "/opt/ml/model/code/serve.ts"
 * ```
 */
export async function findHandlersFile(search: HandlersSearch): Promise<string | undefined> {
  if (search.handlersPath !== undefined) {
    const path = resolve(search.handlersPath);
    if (!(await exists(path))) throw new ConfigurationError(`Handlers file ${path} (--handlers) does not exist`);
    return path;
  }
  const codeDirs = [...new Set([resolve(search.projectDir ?? process.cwd()), ...search.modelDirs.map((dir) => resolve(dir))])].map((dir) => join(dir, "code"));
  if (search.sagemakerProgram !== undefined) {
    const program = search.sagemakerProgram;
    const candidates = isAbsolute(program) ? [program] : codeDirs.map((dir) => join(dir, program));
    for (const candidate of candidates) if (await exists(candidate)) return candidate;
    throw new ConfigurationError(`SAGEMAKER_PROGRAM=${program} names no file; looked at ${candidates.join(", ")}`);
  }
  for (const dir of codeDirs) {
    for (const name of conventionalHandlersFiles) {
      const candidate = join(dir, name);
      if (await exists(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Imports a handlers file and checks its exports. TypeScript files are compiled on the fly
 * (tsx), so users need no build step. Accepts named exports or a default-exported object.
 *
 * @example
 * ```ts
 * const handlers = await importHandlers("/opt/ml/model/code/inference.ts");
 * ```
 */
export async function importHandlers(path: string): Promise<Handlers> {
  const url = pathToFileURL(path).href;
  let namespace: Record<string, unknown>;
  try {
    if (typeScriptExtension.test(path)) {
      await registerTypeScript();
      // TypeScript compiled to CommonJS reaches the toolkit through require(), which on Node 22,
      // with tsx's hooks registered, fails on an ES module graph the worker has half loaded
      // ("request for './errors.js' is from a module not been linked"). Loaded whole first,
      // require() gets it from the cache. Node 24 needs none of this; it costs nothing there.
      if (await compilesToCommonJs(path)) await import("../index.js");
    }
    namespace = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError(`Could not import handlers file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return validateHandlers(path, exportsOf(namespace));
}

function exportsOf(namespace: Record<string, unknown>): Record<string, unknown> {
  const hasNamed = handlerNames.some((name) => name in namespace) || "codecs" in namespace || "batching" in namespace || "pipeline" in namespace;
  const fallback = namespace["default"];
  if (!hasNamed && typeof fallback === "object" && fallback !== null) return fallback as Record<string, unknown>;
  return namespace;
}

/**
 * Checks a handlers module: each handler is a function, `codecs` is an array of codecs, and
 * `transformFn` is not combined with `inputFn`, `predictFn` or `outputFn` (as in SMIT).
 *
 * @example
 * ```ts
 * validateHandlers("inline", { predictFn: (input: number[]) => input.length });
 * ```
 */
export function validateHandlers(source: string, exported: Record<string, unknown>): Handlers {
  for (const [python, node] of Object.entries(pythonNames)) {
    if (python in exported && !(node in exported)) {
      throw new ConfigurationError(`${source} exports ${python}; the Node toolkit calls it ${node}`);
    }
  }
  const handlers: Record<string, unknown> = {};
  for (const name of handlerNames) {
    const value = exported[name];
    if (value === undefined) continue;
    if (typeof value !== "function") throw new ConfigurationError(`${source}: ${name} must be a function, got ${typeof value}`);
    handlers[name] = value;
  }
  if (handlers["transformFn"] !== undefined) {
    const combined = (["inputFn", "predictFn", "outputFn"] as const).filter((name) => handlers[name] !== undefined);
    if (combined.length > 0) {
      throw new ConfigurationError(
        `${source} exports transformFn together with ${combined.join(", ")}; transformFn replaces them, export one or the other`,
      );
    }
  }
  const codecs = exported["codecs"];
  if (codecs !== undefined) handlers["codecs"] = validateCodecs(source, codecs);
  const batching = exported["batching"];
  if (batching !== undefined) handlers["batching"] = validateBatching(source, batching);
  const pipeline = exported["pipeline"];
  if (pipeline !== undefined) handlers["pipeline"] = validatePipeline(source, pipeline, Object.keys(handlers));
  return handlers;
}

function validateBatching(source: string, batching: unknown): Handlers["batching"] {
  if (!isBatching(batching)) {
    throw new ConfigurationError(`${source}: batching must be false or { maxBatchSize?: whole number >= 1, maxDelayMs?: whole number >= 0 }`);
  }
  return batching;
}

/** A pipeline of stages (docs/pipelines.md) brings its own handlers: only `codecs` may sit beside it. */
function validatePipeline(source: string, pipeline: unknown, others: readonly string[]): Handlers["pipeline"] {
  if (!isComposedStages(pipeline)) {
    throw new ConfigurationError(`${source}: pipeline must be built with stages(first).then(next)... (docs/pipelines.md), got ${typeof pipeline}`);
  }
  const combined = others.filter((name) => name !== "codecs");
  if (combined.length > 0) {
    throw new ConfigurationError(`${source} exports pipeline together with ${combined.join(", ")}; a pipeline's stages have their own handlers and settings, export one or the other`);
  }
  return pipeline;
}

function validateCodecs(source: string, codecs: unknown): readonly Codec[] {
  if (!Array.isArray(codecs)) throw new ConfigurationError(`${source}: codecs must be an array of codecs`);
  codecs.forEach((codec: Partial<Codec> | null, index) => {
    const valid =
      typeof codec === "object" &&
      codec !== null &&
      Array.isArray(codec.mediaTypes) &&
      codec.mediaTypes.every((type) => typeof type === "string" && type.includes("/")) &&
      (typeof codec.decode === "function" || typeof codec.encode === "function");
    if (!valid) {
      throw new ConfigurationError(`${source}: codecs[${index}] needs mediaTypes (e.g. ["text/plain"]) and a decode or encode function`);
    }
  });
  return codecs as Codec[];
}

let typeScriptRegistered = false;

/**
 * Compiles TypeScript on import for this thread. Hooks are registered for the whole thread, not
 * per import (tsx's `tsImport`), so the handlers share module instances with the toolkit.
 */
async function registerTypeScript(): Promise<void> {
  if (typeScriptRegistered || process.execArgv.some((arg) => arg.includes("tsx"))) return;
  const { register } = await import("tsx/esm/api");
  register();
  typeScriptRegistered = true;
}

/** True for `.cts`, and for `.ts` in a package whose nearest package.json does not say `"type": "module"` (as tsx decides). */
async function compilesToCommonJs(path: string): Promise<boolean> {
  if (path.endsWith(".cts")) return true;
  if (path.endsWith(".mts")) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const manifest = await readFile(join(dir, "package.json"), "utf8").catch(() => undefined);
    if (manifest !== undefined) return (JSON.parse(manifest) as { type?: unknown }).type !== "module";
    if (dirname(dir) === dir) return true;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
