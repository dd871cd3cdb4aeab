/**
 * The typed composition of stages (docs/pipelines.md): `stages(first).then(second).then(third)`,
 * whose type parameters chain, so a stage that does not take what the one before gives does not
 * compile. A handlers file exports the result as `pipeline`.
 */
import { ConfigurationError } from "../../errors.js";
import type { HandlerOutput, RequestContext } from "../../handlers/types.js";
import { isStage, type Stage, type StageDefinition } from "./stage.js";

type Awaitable<T> = T | Promise<T>;

const pipelineBrand = Symbol.for("sagemaker-byoc-node.StagePipeline");

/** Stages a pipeline may hold: as many as SageMaker chains containers, and some. */
const maxStages = 64;

/**
 * Encodes a pipeline's answer: the last stage's output, or an early answer.
 *
 * @example
 * ```ts
 * const encode: StageOutputFn<Reading> = (reading, accept) => encodeReading(reading, accept);
 * ```
 */
export type StageOutputFn<Answer> = (answer: Answer, accept: string, ctx: RequestContext) => Awaitable<HandlerOutput>;

/**
 * Stages composed and ready to serve: what a handlers file exports as `pipeline`. `In` is what
 * the first stage takes, `Out` what the last gives, `Early` what a stage may answer early with.
 *
 * @example
 * ```ts
 * export const pipeline: ComposedStages<RgbImage, Reading, Reading> = stages(detect).then(recognize).encodeWith(encodeReading);
 * ```
 */
export interface ComposedStages<In, Out, Early> {
  readonly [pipelineBrand]: true;
  /** The stages in order, as declared. */
  readonly definitions: readonly StageDefinition[];
  /** The encoder given to `encodeWith`; without one, the codec chosen by Accept encodes the answer. */
  readonly outputFn: StageOutputFn<unknown> | undefined;
  /** Carries the types only; never set. */
  readonly types?: { readonly input: (input: In) => void; readonly output: () => Out; readonly early: () => Early };
}

/**
 * A composition that can grow: {@link StagePipeline.then} appends a stage that takes what the
 * last one gives; {@link StagePipeline.encodeWith} ends it with an encoder.
 *
 * @example
 * ```ts
 * const reader: StagePipeline<RgbImage, Reading, never> = stages(detect).then(crop).then(recognize);
 * ```
 */
export interface StagePipeline<In, Out, Early> extends ComposedStages<In, Out, Early> {
  /**
   * Appends `stage`, which must take what the last stage gives; its name must be new in the
   * pipeline, and it may not have an `inputFn` (only the first stage decodes the request).
   */
  then<Next, NextEarly>(stage: Stage<Out, Next, NextEarly>): StagePipeline<In, Next, Early | NextEarly>;
  /** Encodes the answer (the last stage's output, or an early answer) with `outputFn` rather than the codec chosen by Accept. */
  encodeWith(outputFn: StageOutputFn<Out | Early>): ComposedStages<In, Out, Early>;
}

/**
 * Starts a pipeline of stages served in one container (docs/pipelines.md). Each request is decoded
 * by the first stage's `inputFn` (or the codec for its Content-Type), runs through the stages in
 * order, each stage's output handed to the next in memory, and its answer is encoded by the
 * pipeline's `encodeWith` (or the codec Accept chooses). Export it as `pipeline` from the
 * handlers file.
 *
 * @example
 * ```ts
 * export const pipeline = stages(detect).then(crop).then(recognize).encodeWith(encodeReading);
 * ```
 */
export function stages<In, Out, Early>(first: Stage<In, Out, Early>): StagePipeline<In, Out, Early> {
  if (!isStage(first)) throw new ConfigurationError("stages() takes a stage made by defineStage()");
  return compose([first.spec], undefined) as StagePipeline<In, Out, Early>;
}

/**
 * True for what {@link stages} builds, from any copy of this package.
 *
 * @example
 * ```ts
 * if (isComposedStages(exported.pipeline)) loadComposition(exported.pipeline);
 * ```
 */
export function isComposedStages(value: unknown): value is ComposedStages<never, unknown, unknown> {
  return typeof value === "object" && value !== null && pipelineBrand in value;
}

/** The pipeline's types exist for the compiler only: at run time every stage takes and gives `unknown`. */
function compose(definitions: readonly StageDefinition[], outputFn: StageOutputFn<unknown> | undefined): StagePipeline<unknown, unknown, unknown> {
  const pipeline: Omit<StagePipeline<unknown, unknown, unknown>, "then"> & { then(stage: Stage<unknown, unknown, unknown>): StagePipeline<unknown, unknown, unknown> } = {
    [pipelineBrand]: true,
    definitions,
    outputFn,
    then(stage: Stage<unknown, unknown, unknown>) {
      if (outputFn !== undefined) throw new ConfigurationError("encodeWith() ends a pipeline: append stages before it");
      if (!isStage(stage)) throw new ConfigurationError("then() takes a stage made by defineStage()");
      const { name, inputFn } = stage.spec;
      if (definitions.some((definition) => definition.name === name)) throw new ConfigurationError(`Two stages are named "${name}": names must differ`);
      if (inputFn !== undefined) throw new ConfigurationError(`Stage "${name}" has an inputFn, but only the first stage decodes the request`);
      if (definitions.length >= maxStages) throw new ConfigurationError(`A pipeline holds at most ${maxStages} stages`);
      return compose([...definitions, stage.spec], undefined);
    },
    encodeWith(encoder: StageOutputFn<unknown>) {
      if (typeof encoder !== "function") throw new ConfigurationError("encodeWith() takes an outputFn: (answer, accept, ctx) => body");
      return compose(definitions, encoder);
    },
  };
  return pipeline as StagePipeline<unknown, unknown, unknown>;
}
