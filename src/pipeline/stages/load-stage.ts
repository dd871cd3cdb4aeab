import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigurationError } from "../../errors.js";
import type { Handlers, ModelContext } from "../../handlers/types.js";
import { loadModel, type LoadedModel, type LoadModelOptions } from "../../models/load-model.js";
import type { StageDefinition } from "./stage.js";

/**
 * Loads one stage's model in this thread with the toolkit's model loader (`loadModel`): its
 * `modelFn`, or the ONNX file or directory `model` names, or nothing; then its warm-up. The
 * stage's `predictFn` (or, without one, the default ONNX predict step with the stage's batching)
 * becomes the model's predict step, and every ONNX session loaded through the context is released
 * with the model. `options.modelDir` is the pipeline's model directory; `model` paths are relative
 * to it. Errors do not name the stage: the caller does (`namingStage`).
 *
 * @example
 * ```ts
 * const { model } = await loadStage(detect.spec, { name: "model", modelDir: "/opt/ml/model", workerId: 0, onnx, batching, log });
 * ```
 */
export async function loadStage(definition: StageDefinition, options: LoadModelOptions): Promise<LoadedModel> {
  const location = resolve(options.modelDir, definition.model ?? ".");
  const handlers: Handlers = {
    modelFn: await modelLoader(definition, location),
    ...(definition.predictFn === undefined ? {} : { predictFn: definition.predictFn }),
    ...(definition.warmUpFn === undefined ? {} : { warmUpFn: definition.warmUpFn }),
    ...(definition.unloadFn === undefined ? {} : { unloadFn: definition.unloadFn }),
    ...(definition.batching === undefined ? {} : { batching: definition.batching }),
  };
  return loadModel(handlers, { ...options, modelDir: location, log: options.log.child({ stage: definition.name }) });
}

/** The stage's `modelFn`; the ONNX loaders for a `model` path alone; no model otherwise. */
async function modelLoader(definition: StageDefinition, location: string): Promise<(dir: string, ctx: ModelContext) => unknown> {
  const { modelFn, model } = definition;
  if (modelFn !== undefined) return (dir, ctx) => modelFn(dir, ctx);
  if (model === undefined) return () => undefined;
  const found = await stat(location).catch(() => undefined);
  if (found === undefined) throw new ConfigurationError(`its model ${location} does not exist`);
  return found.isDirectory() ? (dir, ctx) => ctx.loadOnnxModels(dir) : (file, ctx) => ctx.loadOnnxModel(file);
}
