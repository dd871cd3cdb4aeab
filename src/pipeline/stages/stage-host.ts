import type { Logger } from "pino";
import { ConfigurationError } from "../../errors.js";
import type { RequestContext } from "../../handlers/types.js";
import type { LoadedModel, LoadModelOptions } from "../../models/load-model.js";
import { transferablesOf, type StageCall, type StageReturn } from "./hand-over.js";
import { loadStage } from "./load-stage.js";
import { isEarlyAnswer } from "./stage.js";
import { namingStage } from "./stage-errors.js";
import type { ComposedStages } from "./stage-pipeline.js";

/**
 * The name under which the worker pool hosts stage `stage` of the pipeline served as `model`,
 * when the stage runs on workers of its own.
 *
 * @example
 * ```ts
 * stageHostName("model", "recognize"); // "model/stage:recognize"
 * ```
 */
export function stageHostName(model: string, stage: string): string {
  return `${model}/stage:${stage}`;
}

/**
 * One stage of a pipeline, loaded alone in a worker that hosts it for the workers running the
 * pipeline (a stage with `workers`): runs the calls they hand over and hands back the output,
 * its buffers to be moved.
 *
 * @example
 * ```ts
 * const host = await StageHost.load(pipeline, "recognize", options);
 * const answer = await host.run(call, { log, signal });
 * ```
 */
export class StageHost {
  readonly name: string;
  readonly loaded: LoadedModel;

  private constructor(name: string, loaded: LoadedModel) {
    this.name = name;
    this.loaded = loaded;
  }

  /** Loads stage `stage` of `composition`; a name the composition does not have is a {@link ConfigurationError}. */
  static async load(composition: ComposedStages<never, unknown, unknown>, stage: string, options: LoadModelOptions): Promise<StageHost> {
    const definition = composition.definitions.find((candidate) => candidate.name === stage);
    if (definition === undefined) {
      throw new ConfigurationError(`The pipeline has no stage "${stage}" (its stages: ${composition.definitions.map((candidate) => candidate.name).join(", ")})`);
    }
    try {
      return new StageHost(stage, await loadStage(definition, options));
    } catch (error) {
      throw namingStage(error, stage);
    }
  }

  /** Runs one call with the request's facts and this worker's signal and logger; the output's buffers are listed to be moved. */
  async run(call: StageCall, scope: { readonly log: Logger; readonly signal: AbortSignal }): Promise<StageReturn> {
    const ctx: RequestContext = { ...call.request, log: scope.log.child({ stage: this.name }), signal: scope.signal };
    let output: unknown;
    try {
      output = await this.loaded.model.predict(call.value, ctx);
    } catch (error) {
      throw namingStage(error, this.name);
    }
    const early = isEarlyAnswer(output);
    const value: unknown = isEarlyAnswer(output) ? output.value : output;
    return { value, transfer: transferablesOf(value), early, responseCustomAttributes: ctx.responseCustomAttributes };
  }

  release(): Promise<void> {
    return this.loaded.model.release();
  }
}
