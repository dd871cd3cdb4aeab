import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { InferenceSession, Tensor } from "onnxruntime-node";
import type { Logger } from "pino";
import { ConfigurationError } from "../../errors.js";
import { castElements, isDType } from "../../tensor/dtype-cast.js";
import { createSession } from "./create-session.js";
import type { OnnxSessionConfig } from "./session-config.js";
import { toTensor } from "./to-tensor.js";

/** Entries of the model directory named in the error when it holds no model. */
const MAX_LISTED_ENTRIES = 20;

/**
 * What {@link loadOnnxModels} returns: the session when the directory holds one model, otherwise
 * the sessions keyed by file name without `.onnx`.
 *
 * @example
 * ```ts
 * const model: OnnxSessions = await loadOnnxModels("/opt/ml/model", config, log);
 * const session = isOnnxSession(model) ? model : model["detector"];
 * ```
 */
export type OnnxSessions = InferenceSession | Readonly<Record<string, InferenceSession>>;

/**
 * Creates a session (see {@link createSession}) for every `*.onnx` file directly in `dir`: one
 * file gives its session, several give a frozen record keyed by file name without `.onnx`
 * (`detector.onnx` → `detector`). Subdirectories are not searched, so `code/` and other files
 * never load by accident; to serve a model kept in a subdirectory, load that directory from
 * `modelFn`. No `.onnx` file is a {@link ConfigurationError} naming the directory and listing
 * what it holds.
 *
 * With `config.warmUp`, each session then runs once on zero-filled inputs built from its input
 * metadata (symbolic dims → 1, strings → ""), so the first request does not pay for
 * onnxruntime's lazy set-up. A model that needs real-shaped inputs can fail this run (a reshape
 * to a fixed size, for one): the failure is logged as a warning with its reason and the load
 * goes on. Sessions already created are released when a later one fails to load.
 *
 * @example
 * ```ts
 * const model = await loadOnnxModels("/opt/ml/model", { ...defaultOnnxSessionConfig, intraOpNumThreads: 1 }, log);
 * ```
 */
export async function loadOnnxModels(dir: string, config: OnnxSessionConfig, log: Logger): Promise<OnnxSessions> {
  const files = await findModelFiles(dir);
  const sessions: [string, InferenceSession][] = [];
  try {
    for (const file of files) {
      sessions.push([file.slice(0, -".onnx".length), await loadOnnxModel(join(dir, file), config, log)]);
    }
  } catch (error) {
    await Promise.allSettled(sessions.map(([, session]) => session.release()));
    throw error;
  }
  const [first] = sessions;
  if (sessions.length === 1 && first !== undefined) return first[1];
  return Object.freeze(Object.fromEntries(sessions));
}

/**
 * Releases every session of `model`, even when one release fails; the failures are then thrown
 * together as an `AggregateError`. Prefer ending the worker to re-creating sessions in place:
 * create/release cycles leak memory upstream (microsoft/onnxruntime#25325).
 *
 * @example
 * ```ts
 * await releaseOnnxModels(model);
 * ```
 */
export async function releaseOnnxModels(model: OnnxSessions): Promise<void> {
  const sessions = isOnnxSession(model) ? [model] : Object.values(model);
  const results = await Promise.allSettled(sessions.map((session) => session.release()));
  const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
  if (failures.length > 0) {
    throw new AggregateError(failures, `Could not release ${failures.length} of ${sessions.length} ONNX sessions`);
  }
}

/**
 * True when `model` is one session rather than a record of them.
 *
 * @example
 * ```ts
 * const names = isOnnxSession(model) ? [] : Object.keys(model);
 * ```
 */
export function isOnnxSession(model: unknown): model is InferenceSession {
  const candidate = model as Partial<InferenceSession> | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.run === "function" && Array.isArray(candidate.inputNames);
}

/**
 * True when `value` is what {@link loadOnnxModels} returns: one session, or a non-empty record of
 * sessions. The default `predictFn` can run nothing else.
 *
 * @example
 * ```ts
 * if (!isOnnxSessions(value)) throw new Error("export a predictFn");
 * ```
 */
export function isOnnxSessions(value: unknown): value is OnnxSessions {
  if (isOnnxSession(value)) return true;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.values(value);
  return entries.length > 0 && entries.every(isOnnxSession);
}

/**
 * Loads one `.onnx` file as {@link loadOnnxModels} loads each file of a directory (providers,
 * session options, warm-up).
 *
 * @example
 * ```ts
 * const detector = await loadOnnxModel("/opt/ml/model/det.onnx", config, log);
 * ```
 */
export async function loadOnnxModel(file: string, config: OnnxSessionConfig, log: Logger): Promise<InferenceSession> {
  const { session } = await createSession(file, config, log);
  if (config.warmUp) await warmUp(session, basename(file), log);
  return session;
}

async function findModelFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : String(error);
    throw new ConfigurationError(`Cannot read the model directory ${dir}: ${reason}`, { cause: error });
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.name.endsWith(".onnx") || entry.name === ".onnx") continue;
    const isFile = entry.isSymbolicLink()
      ? await stat(join(dir, entry.name)).then((stats) => stats.isFile(), () => false)
      : entry.isFile();
    if (isFile) files.push(entry.name);
  }
  if (files.length === 0) {
    throw new ConfigurationError(
      `No .onnx file directly in the model directory ${dir} (${describeEntries(entries)}). ` +
        `Subdirectories are not searched: put the .onnx files at the top of the directory, or load them from modelFn.`,
    );
  }
  return files.sort();
}

function describeEntries(entries: readonly Dirent[]): string {
  if (entries.length === 0) return "it is empty";
  const names = entries.map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name)).sort();
  const listed = names.slice(0, MAX_LISTED_ENTRIES).join(", ");
  const more = names.length > MAX_LISTED_ENTRIES ? ` and ${names.length - MAX_LISTED_ENTRIES} more` : "";
  return `it holds ${listed}${more}`;
}

/**
 * Zero-filled inputs for every input of `session`, symbolic dimensions set to 1: what the warm-up
 * runs, and what the inline lane times a model with (docs/inline-lane.md). Throws when an input is
 * not a tensor of a known type.
 *
 * @example
 * ```ts
 * await session.run(zeroFeeds(session));
 * ```
 */
export function zeroFeeds(session: InferenceSession): Record<string, Tensor> {
  return Object.fromEntries(
    session.inputMetadata.map((input) => {
      if (!input.isTensor) throw new TypeError(`input "${input.name}" is not a tensor`);
      const dtype = input.type;
      if (!isDType(dtype)) throw new TypeError(`input "${input.name}" has type ${dtype}`);
      const shape = input.shape.map((dim) => (typeof dim === "string" ? 1 : dim));
      const count = shape.reduce((product, dim) => product * dim, 1);
      const zeros = new Array<number | string>(count).fill(dtype === "string" ? "" : 0);
      return [input.name, toTensor({ dtype, shape, data: castElements(zeros, dtype, shape, `input "${input.name}"`) })];
    }),
  );
}

async function warmUp(session: InferenceSession, model: string, log: Logger): Promise<void> {
  const started = performance.now();
  try {
    await session.run(zeroFeeds(session));
    log.debug({ file: model, ms: Math.round(performance.now() - started) }, `Warmed up ONNX model ${model}`);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
    log.warn(
      { file: model, reason },
      `Warm-up run of ONNX model ${model} on zero-filled inputs failed, so its first request will be slower: ${reason}`,
    );
  }
}
