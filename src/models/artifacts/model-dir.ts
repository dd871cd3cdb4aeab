import { stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Logger } from "pino";
import { ConfigurationError } from "../../errors.js";
import { extractModelArchive, type ArchiveLimits } from "./model-archive.js";

/**
 * The archive the toolkit unpacks itself when it finds it in the model directory. SageMaker
 * normally extracts it before the container starts (docs/sagemaker-contract.md); local runs and custom set-ups
 * may leave it packed.
 *
 * @example
 * ```ts
 * const archive = join(modelDir, modelArchiveName); // "/opt/ml/model/model.tar.gz"
 * ```
 */
export const modelArchiveName = "model.tar.gz";

/**
 * Options of {@link resolveModelDir}.
 *
 * @example
 * ```ts
 * const options: ResolveModelDirOptions = { modelDir: "/opt/ml/model", extractDir: "/tmp/sagemaker-model" };
 * ```
 */
export interface ResolveModelDirOptions {
  /** Where SageMaker puts the model artifacts, `/opt/ml/model` unless configured. Never written to. */
  modelDir: string;
  /** Where a `model.tar.gz` found in `modelDir` is extracted: outside `modelDir`, and writable. */
  extractDir: string;
  /** Overrides for the extraction limits. */
  limits?: Partial<ArchiveLimits>;
  /** Where extraction and reuse are reported. */
  log?: Logger;
}

/**
 * Returns the directory handlers load the model from: `modelDir` itself, or, when it holds a
 * `model.tar.gz`, the directory that archive was safely extracted into (see
 * {@link extractModelArchive}; an unchanged archive is not extracted again on restart).
 *
 * Only the archive's content ends up in the extraction directory: files next to the archive in
 * `modelDir` (a `code/` directory with the handlers, for instance) stay where they are and are
 * still read from `modelDir`.
 *
 * Throws {@link ConfigurationError} when the model directory is missing or not a directory, or
 * when the extraction directory overlaps it (`modelDir` is treated as read-only), and
 * {@link ModelArchiveError} when the archive is corrupt, too large or hostile.
 *
 * @example
 * ```ts
 * const modelPath = await resolveModelDir({ modelDir: "/opt/ml/model", extractDir: "/tmp/sagemaker-model", log });
 * const session = await InferenceSession.create(join(modelPath, "model.onnx"));
 * ```
 */
export async function resolveModelDir(options: ResolveModelDirOptions): Promise<string> {
  const modelDir = resolve(options.modelDir);
  await checkModelDir(modelDir);
  const archive = join(modelDir, modelArchiveName);
  if (!(await exists(archive))) return modelDir;

  const extractDir = resolve(options.extractDir);
  if (isWithin(extractDir, modelDir) || isWithin(modelDir, extractDir)) {
    throw new ConfigurationError(
      `The model extraction directory ${extractDir} overlaps the model directory ${modelDir}, which is treated as read-only; choose an extraction directory outside it`,
    );
  }
  const extraction = await extractModelArchive(archive, extractDir, options);
  return extraction.destination;
}

async function checkModelDir(modelDir: string): Promise<void> {
  try {
    if ((await stat(modelDir)).isDirectory()) return;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(error as Error).message})`;
    throw new ConfigurationError(
      `The model directory ${modelDir} ${reason}; pass --model-dir <dir> (or set BYOC_MODEL_DIR) to the folder holding the model artifacts`,
      { cause: error },
    );
  }
  throw new ConfigurationError(`The model directory ${modelDir} is not a directory; pass --model-dir <dir> (or set BYOC_MODEL_DIR) to the folder holding the model artifacts`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new ConfigurationError(`Cannot read ${path} (${(error as Error).message})`, { cause: error });
  }
}

function isWithin(path: string, directory: string): boolean {
  const fromDirectory = relative(directory, path);
  return fromDirectory === "" || (fromDirectory !== ".." && !fromDirectory.startsWith(`..${sep}`) && !isAbsolute(fromDirectory));
}
