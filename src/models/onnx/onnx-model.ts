import type { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import type { RequestContext } from "../../handlers/types.js";
import type { Model, ModelSignature, PredictNotes, TensorSpec } from "../model.js";
import { batchAxisOf, OnnxBatcher, rowsAreIndependent, type BatchingSettings } from "./batcher.js";
import { isOnnxSession, type OnnxSessions } from "./load-models.js";
import { predictOnnxWith, runSession, type SessionRunner } from "./predict.js";

/**
 * ONNX sessions as a {@link Model}: the default `predictFn` runs them. Its signature comes from
 * the session's metadata when there is one session; a record of several sessions (chosen per
 * request by `X-Amzn-SageMaker-Target-Model`) declares none. Sessions that can be batched (see
 * {@link OnnxModel.create}) merge concurrent requests.
 *
 * @example
 * ```ts
 * const model = await OnnxModel.create(sessions, release, { batching: { maxBatchSize: 32, maxDelayMs: 0 }, log });
 * ```
 */
export class OnnxModel implements Model {
  readonly value: OnnxSessions;
  readonly signature: ModelSignature | undefined;
  readonly batchSize: number;
  readonly numericInput: "float32" | "float64" | undefined;
  readonly #release: () => Promise<void>;
  readonly #run: SessionRunner;

  private constructor(sessions: OnnxSessions, release: () => Promise<void>, batchers: ReadonlyMap<InferenceSession, OnnxBatcher>, batchSize: number) {
    this.value = sessions;
    this.batchSize = batchers.size > 0 ? batchSize : 1;
    this.signature = isOnnxSession(sessions) ? sessionSignature(sessions) : undefined;
    // Fed to a float input, an NDArray of its type and nested arrays give the same tensor (and
    // errors); read straight into that type, a JSON body needs no second copy.
    const inputs = this.signature?.inputs ?? [];
    const only = inputs.length === 1 ? inputs[0]?.dtype : undefined;
    this.numericInput = only === "float32" || only === "float64" ? only : undefined;
    this.#release = release;
    this.#run = (session, feeds, signal, notes) => {
      const batcher = batchers.get(session);
      return batcher === undefined ? runSession(session, feeds) : batcher.run(feeds, signal, notes);
    };
  }

  /**
   * Wraps `sessions`. With batching on (`maxBatchSize` > 1), each session whose inputs and outputs
   * share a variable first dimension ({@link batchAxisOf}) and whose rows are independent
   * ({@link rowsAreIndependent}, checked here by running it) gets a batcher; the others, and the
   * reason, are logged and served one request per run.
   */
  static async create(
    sessions: OnnxSessions,
    release: () => Promise<void>,
    options: { readonly batching: BatchingSettings; readonly log: Logger },
  ): Promise<OnnxModel> {
    const batchers = new Map<InferenceSession, OnnxBatcher>();
    if (options.batching.maxBatchSize > 1) {
      const named = isOnnxSession(sessions) ? [["model", sessions] as const] : Object.entries(sessions);
      for (const [name, session] of named) {
        const axis = batchAxisOf(session);
        if (axis === undefined) {
          options.log.info({ session: name }, "not batched: its inputs and outputs do not all start with the same variable dimension");
        } else if (!(await rowsAreIndependent(session))) {
          options.log.warn({ session: name, axis }, "not batched: two rows run together do not give what each gives alone");
        } else {
          batchers.set(session, new OnnxBatcher(session, options.batching, options.log));
          options.log.info({ session: name, axis, ...options.batching }, "dynamic batching on");
        }
      }
    }
    return new OnnxModel(sessions, release, batchers, options.batching.maxBatchSize);
  }

  predict(input: unknown, ctx: RequestContext, notes?: PredictNotes): Promise<unknown> {
    return predictOnnxWith(this.value, input, { targetModel: ctx.targetModel, signal: ctx.signal }, this.#run, notes);
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
