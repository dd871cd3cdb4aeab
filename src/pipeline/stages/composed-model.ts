import type { Logger } from "pino";
import type { RequestContext } from "../../handlers/types.js";
import type { LoadedModel, LoadModelOptions } from "../../models/load-model.js";
import type { Model, ModelSignature, PredictNotes } from "../../models/model.js";
import { requestFacts, transferablesOf, type StageReturn, type StageCall } from "./hand-over.js";
import { loadStage } from "./load-stage.js";
import { answerEarly, isEarlyAnswer, type StageDefinition } from "./stage.js";
import { namingStage } from "./stage-errors.js";
import type { ComposedStages } from "./stage-pipeline.js";

/**
 * Runs a stage that lives on other workers: hands `call` to a worker hosting the stage (the pool
 * picks the least busy) and resolves with what it gave back.
 *
 * @example
 * ```ts
 * const caller: StageCaller = (stage, call, signal) => pool.runStage(stageHostName("model", stage), call, signal);
 * ```
 */
export type StageCaller = (stage: string, call: StageCall, signal: AbortSignal) => Promise<StageReturn>;

/**
 * A stage of a composition that runs on other workers, and on how many.
 *
 * @example
 * ```ts
 * const placement: RemoteStage = { stage: "recognize", workers: 1 };
 * ```
 */
export interface RemoteStage {
  readonly stage: string;
  readonly workers: number;
}

interface RunnableStage {
  readonly definition: StageDefinition;
  /** The loaded model, for a stage that runs in this thread. */
  readonly loaded: LoadedModel | undefined;
  run(input: unknown, ctx: RequestContext): Promise<unknown>;
}

/**
 * A pipeline of stages as one {@link Model}: its predict step runs the stages in order, each
 * stage's output handed to the next in memory, timing each, skipping those whose `skipIf` says
 * so and stopping at an early answer. A failure names its stage and keeps its status.
 *
 * Stages without `workers` load and run in this thread. A stage with `workers` runs, when a
 * {@link StageCaller} is given, on the workers that host it: its input and output cross threads,
 * their buffers moved; without one (a single thread, as in the test endpoint) it runs here too.
 *
 * @example
 * ```ts
 * const composed = await ComposedModel.load(pipeline, { name: "model", modelDir, workerId: 0, onnx, batching, log }, caller);
 * const reading = await composed.model.predict(image, ctx, notes);
 * ```
 */
export class ComposedModel implements Model {
  readonly value: Readonly<Record<string, unknown>>;
  readonly signature: ModelSignature | undefined;
  readonly batchSize: number;
  /** The stages that run on workers of their own. */
  readonly remoteStages: readonly RemoteStage[];
  readonly #stages: readonly RunnableStage[];

  private constructor(stages: readonly RunnableStage[], remoteStages: readonly RemoteStage[]) {
    this.#stages = stages;
    this.remoteStages = remoteStages;
    this.value = Object.fromEntries(stages.map((stage) => [stage.definition.name, stage.loaded?.model.value]));
    this.batchSize = Math.max(1, ...stages.map((stage) => stage.loaded?.model.batchSize ?? 1));
    const first = stages[0]?.loaded?.model.signature;
    const last = stages.at(-1)?.loaded?.model.signature;
    this.signature = first !== undefined && last !== undefined ? { inputs: first.inputs, outputs: last.outputs } : undefined;
  }

  /**
   * Loads the stages that run in this thread, one after another (so each memory figure is its
   * own); a failure releases those loaded already. The load's time and memory are the stages'
   * together.
   */
  static async load(composition: ComposedStages<never, unknown, unknown>, options: LoadModelOptions, caller: StageCaller | undefined): Promise<LoadedModel & { readonly model: ComposedModel }> {
    const started = performance.now();
    const stages: RunnableStage[] = [];
    const remoteStages: RemoteStage[] = [];
    let memoryBytes = 0;
    try {
      for (const definition of composition.definitions) {
        if (definition.workers !== undefined && caller !== undefined) {
          remoteStages.push({ stage: definition.name, workers: definition.workers });
          stages.push(remoteStage(definition, caller));
          continue;
        }
        const loaded = await loadStage(definition, options);
        memoryBytes += loaded.memoryBytes;
        stages.push({ definition, loaded, run: (input, ctx) => loaded.model.predict(input, ctx) });
      }
    } catch (error) {
      await releaseStages(stages, options.log);
      throw namingStage(error, composition.definitions[stages.length]?.name ?? "?");
    }
    return { model: new ComposedModel(stages, remoteStages), loadMs: performance.now() - started, memoryBytes };
  }

  async predict(input: unknown, ctx: RequestContext, notes?: PredictNotes): Promise<unknown> {
    let value = input;
    for (const stage of this.#stages) {
      const { name, skipIf } = stage.definition;
      const started = performance.now();
      let output: unknown;
      try {
        if (skipIf?.(value, ctx) === true) continue;
        output = await stage.run(value, ctx);
      } catch (error) {
        throw namingStage(error, name);
      }
      if (notes !== undefined) notes.stageTimes[name] = performance.now() - started;
      if (isEarlyAnswer(output)) return output.value;
      ctx.signal.throwIfAborted();
      value = output;
    }
    return value;
  }

  /** Releases the stages loaded in this thread (the user's `unloadFn`s, then their sessions), each even when another fails. */
  async release(): Promise<void> {
    const failures = await releaseStages(this.#stages);
    if (failures.length > 0) throw new AggregateError(failures, `Could not release ${failures.length} stage(s) of the pipeline`);
  }
}

/** A stage run on the workers hosting it: the value crosses with its buffers moved; an early answer comes back flagged. */
function remoteStage(definition: StageDefinition, caller: StageCaller): RunnableStage {
  return {
    definition,
    loaded: undefined,
    async run(input, ctx) {
      const answer = await caller(definition.name, { stage: definition.name, value: input, transfer: transferablesOf(input), request: requestFacts(ctx) }, ctx.signal);
      ctx.responseCustomAttributes = answer.responseCustomAttributes;
      return answer.early ? answerEarly(answer.value) : answer.value;
    },
  };
}

async function releaseStages(stages: readonly RunnableStage[], log?: Logger): Promise<unknown[]> {
  const results = await Promise.allSettled(stages.map((stage) => stage.loaded?.model.release() ?? Promise.resolve()));
  const failures = results.flatMap((result, index) => (result.status === "rejected" ? [namingStage(result.reason, stages[index]?.definition.name ?? "?")] : []));
  for (const failure of failures) log?.error({ err: failure }, "releasing a stage failed");
  return failures;
}
