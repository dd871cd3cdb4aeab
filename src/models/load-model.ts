import type { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import { ConfigurationError } from "../errors.js";
import type { Handlers, ModelContext } from "../handlers/types.js";
import { collectGarbage } from "./collect-garbage.js";
import { HandlerModel } from "./handler-model.js";
import type { Model } from "./model.js";
import { isOnnxSessions, loadOnnxModel, loadOnnxModels, type OnnxSessions } from "./onnx/load-models.js";
import type { BatchingSettings } from "./onnx/batcher.js";
import { OnnxModel } from "./onnx/onnx-model.js";
import type { OnnxSessionConfig } from "./onnx/session-config.js";

/**
 * What loading a model needs besides its handlers.
 *
 * @example
 * ```ts
 * const options: LoadModelOptions = { name: "model", modelDir: "/opt/ml/model", workerId: 0, onnx: config.onnx, log };
 * ```
 */
export interface LoadModelOptions {
  readonly name: string;
  /** The directory `modelFn` receives (an extracted `model.tar.gz` when there was one). */
  readonly modelDir: string;
  readonly workerId: number;
  readonly onnx: OnnxSessionConfig;
  /** Dynamic batching of the default predictFn's sessions; the handlers' `batching` export overrides it. */
  readonly batching: BatchingSettings;
  readonly log: Logger;
}

/**
 * A model that is ready to serve, with what its load cost.
 *
 * @example
 * ```ts
 * const loaded = await loadModel(handlers, options);
 * log.info({ ms: loaded.loadMs, bytes: loaded.memoryBytes }, "loaded");
 * ```
 */
export interface LoadedModel {
  readonly model: Model;
  /** Milliseconds from the start of the load to the end of the warm-up. */
  readonly loadMs: number;
  /**
   * Growth of the process's memory over the load and warm-up, in bytes: the larger of resident
   * memory's growth (ONNX Runtime allocates natively, so this is the measure that sees it) and of
   * the memory held by buffers. Concurrent loads in other threads would blur it; the worker pool
   * loads one model at a time where the figure matters. A custom `modelFn` is measured after a
   * full garbage collection, so that what an unloaded model left behind does not hide what this one
   * holds; the default load (ONNX sessions, native memory that a collection does not touch) skips
   * the collection's tens of milliseconds, and the multi-model registry never charges less than the
   * files' size anyway.
   */
  readonly memoryBytes: number;
}

/**
 * The model lifecycle's first half: runs `modelFn` (or loads the ONNX files of the directory),
 * wraps the result as a {@link Model}, warms it up, and measures its time and memory. Every ONNX
 * session loaded through the context, and any session `modelFn` returns, is released by the
 * model's `release`, after the user's `unloadFn`.
 *
 * Without `predictFn` (and without `transformFn`) the default predictFn runs ONNX sessions, so a
 * `modelFn` that returns something else is a {@link ConfigurationError} at load time rather than a
 * 500 on every request.
 *
 * @example
 * ```ts
 * const { model } = await loadModel(handlers, { name: "model", modelDir, workerId: 0, onnx: config.onnx, log });
 * ```
 */
export async function loadModel(handlers: Handlers, options: LoadModelOptions): Promise<LoadedModel> {
  const started = performance.now();
  if (handlers.modelFn !== undefined) collectGarbage();
  const before = process.memoryUsage();
  const sessions = new Set<InferenceSession>();
  const track = <T extends OnnxSessions>(loaded: T): T => {
    for (const session of sessionsOf(loaded)) sessions.add(session);
    return loaded;
  };
  const ctx: ModelContext = {
    log: options.log,
    modelName: options.name,
    workerId: options.workerId,
    loadOnnxModels: async (dir) => track(await loadOnnxModels(dir, options.onnx, options.log)),
    loadOnnxModel: async (file) => track(await loadOnnxModel(file, options.onnx, options.log)),
  };
  let value: unknown;
  try {
    value = handlers.modelFn ? await handlers.modelFn(options.modelDir, ctx) : await ctx.loadOnnxModels(options.modelDir);
  } catch (error) {
    await releaseAll(sessions);
    throw error;
  }
  const release = async (): Promise<void> => {
    try {
      await handlers.unloadFn?.(value, ctx);
    } finally {
      if (isOnnxSessions(value)) track(value);
      await releaseAll(sessions);
    }
  };
  const model = await toModel(handlers, value, release, { batching: batchingFor(handlers, options.batching), log: options.log });
  if (model === undefined) {
    await release();
    throw new ConfigurationError(
      `modelFn returned ${describe(value)}, but without a predictFn the default one runs ONNX sessions (what ctx.loadOnnxModels returns): export a predictFn that uses your model`,
    );
  }
  try {
    await handlers.warmUpFn?.(value, ctx);
  } catch (error) {
    await release();
    throw error;
  }
  const after = process.memoryUsage();
  // Native allocations (ONNX Runtime's) show only in resident memory; buffers the handlers hold
  // show exactly in `external`, even when they reuse pages resident memory already counted.
  const memoryBytes = Math.max(0, after.rss - before.rss, after.external - before.external);
  return { model, loadMs: performance.now() - started, memoryBytes };
}

async function toModel(
  handlers: Handlers,
  value: unknown,
  release: () => Promise<void>,
  options: { readonly batching: BatchingSettings; readonly log: Logger },
): Promise<Model | undefined> {
  if (handlers.predictFn !== undefined || handlers.transformFn !== undefined) return new HandlerModel(value, handlers.predictFn, release);
  return isOnnxSessions(value) ? OnnxModel.create(value, release, options) : undefined;
}

/** The server's batching settings, with the model's own (`export const batching`) on top; `false` turns it off. */
function batchingFor(handlers: Handlers, settings: BatchingSettings): BatchingSettings {
  if (handlers.batching === false) return { ...settings, maxBatchSize: 1 };
  return { ...settings, ...handlers.batching };
}

function sessionsOf(loaded: OnnxSessions): InferenceSession[] {
  return "run" in loaded && typeof loaded.run === "function" ? [loaded as InferenceSession] : Object.values(loaded as Record<string, InferenceSession>);
}

async function releaseAll(sessions: Set<InferenceSession>): Promise<void> {
  const all = [...sessions];
  sessions.clear();
  const results = await Promise.allSettled(all.map((session) => session.release()));
  const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
  if (failures.length > 0) throw new AggregateError(failures, `Could not release ${failures.length} of ${all.length} ONNX sessions`);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}
