import type { InferenceSession } from "onnxruntime-node";
import type { RequestContext } from "../../handlers/types.js";
import type { Model, ModelSignature, TensorSpec } from "../model.js";
import { isOnnxSession, type OnnxSessions } from "./load-models.js";
import { predictOnnx } from "./predict.js";

/**
 * ONNX sessions as a {@link Model}: the default `predictFn` ({@link predictOnnx}) runs them. Its
 * signature comes from the session's metadata when there is one session; a record of several
 * sessions (chosen per request by `X-Amzn-SageMaker-Target-Model`) declares none.
 *
 * @example
 * ```ts
 * const model = new OnnxModel(await loadOnnxModels(dir, config, log), () => releaseOnnxModels(sessions));
 * ```
 */
export class OnnxModel implements Model {
  readonly value: OnnxSessions;
  readonly signature: ModelSignature | undefined;
  readonly #release: () => Promise<void>;

  constructor(sessions: OnnxSessions, release: () => Promise<void>) {
    this.value = sessions;
    this.signature = isOnnxSession(sessions) ? sessionSignature(sessions) : undefined;
    this.#release = release;
  }

  predict(input: unknown, ctx: RequestContext): Promise<unknown> {
    return predictOnnx(this.value, input, { targetModel: ctx.targetModel, signal: ctx.signal });
  }

  release(): Promise<void> {
    return this.#release();
  }
}

/**
 * A session's inputs and outputs as a {@link ModelSignature}; symbolic dimensions keep their name.
 *
 * @example
 * ```ts
 * sessionSignature(session).inputs[0]; // { name: "features", dtype: "float32", shape: ["batch", 4] }
 * ```
 */
export function sessionSignature(session: InferenceSession): ModelSignature {
  const spec = (metadata: InferenceSession.ValueMetadata): TensorSpec =>
    metadata.isTensor ? { name: metadata.name, dtype: metadata.type, shape: metadata.shape } : { name: metadata.name, dtype: "unknown", shape: [] };
  return { inputs: session.inputMetadata.map(spec), outputs: session.outputMetadata.map(spec) };
}
