import type { Logger } from "pino";
import { findHandlersFile } from "../handlers/handlers-file.js";
import type { ArchiveLimits } from "./artifacts/model-archive.js";
import { resolveModelDir } from "./artifacts/model-dir.js";

/**
 * A model ready to be loaded in a thread: its name, the directory `modelFn` receives (an unpacked
 * `model.tar.gz` when there was one) and its handlers file, if any. Plain data: it crosses to worker threads.
 *
 * @example
 * ```ts
 * const source: ModelSource = { name: "model", modelDir: "/opt/ml/model", handlersFile: "/opt/ml/model/code/inference.ts" };
 * ```
 */
export interface ModelSource {
  readonly name: string;
  readonly modelDir: string;
  readonly handlersFile: string | undefined;
  /**
   * Load only this stage of the handlers file's pipeline, to run it for the workers that serve
   * the pipeline (a stage with `workers` of its own, docs/pipelines.md).
   */
  readonly stage?: string;
}

/**
 * Where a model's artifacts and handlers are, before {@link resolveModelSource} looks.
 *
 * @example
 * ```ts
 * const options: ModelSourceOptions = { name: "model", modelDir: "/opt/ml/model", extractDir: "/tmp/m", archiveLimits: {}, handlersPath: undefined, sagemakerProgram: undefined, log };
 * ```
 */
export interface ModelSourceOptions {
  readonly name: string;
  /** The model directory as given (`/opt/ml/model`); never written to. */
  readonly modelDir: string;
  /** Where a `model.tar.gz` found in it is unpacked. */
  readonly extractDir: string;
  readonly archiveLimits: Partial<ArchiveLimits>;
  /** An explicit handlers file (`--handlers`), which wins over the model directory's `code/`. */
  readonly handlersPath: string | undefined;
  /** `SAGEMAKER_PROGRAM`: a file name under `code/`. */
  readonly sagemakerProgram: string | undefined;
  readonly log: Logger;
}

/**
 * Unpacks the model's archive when it has one (safely: see `extractModelArchive`) and finds its
 * handlers file (in the unpacked directory's `code/`, then the original directory's). Runs on the
 * main thread, once per model, before any worker loads it.
 *
 * @example
 * ```ts
 * const source = await resolveModelSource({ name: "model", modelDir: "/opt/ml/model", extractDir, archiveLimits: {}, handlersPath: undefined, sagemakerProgram: undefined, log });
 * ```
 */
export async function resolveModelSource(options: ModelSourceOptions): Promise<ModelSource> {
  const modelDir = await resolveModelDir({ modelDir: options.modelDir, extractDir: options.extractDir, limits: options.archiveLimits, log: options.log });
  const handlersFile = await findHandlersFile({
    handlersPath: options.handlersPath,
    sagemakerProgram: options.sagemakerProgram,
    modelDirs: [...new Set([modelDir, options.modelDir])],
  });
  return { name: options.name, modelDir, handlersFile };
}
