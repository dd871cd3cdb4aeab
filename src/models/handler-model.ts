import { InferenceError } from "../errors.js";
import type { Handlers, RequestContext } from "../handlers/types.js";
import type { Model } from "./model.js";

/**
 * What the user's `modelFn` returned, run by their `predictFn` (or, with `transformFn`, by nothing
 * here: the pipeline hands `value` to `transformFn` itself). It declares no signature: the user's
 * `predictFn` decides what it takes.
 *
 * @example
 * ```ts
 * const model = new HandlerModel(await handlers.modelFn(dir, ctx), handlers.predictFn, release);
 * ```
 */
export class HandlerModel implements Model {
  readonly value: unknown;
  readonly signature = undefined;
  readonly batchSize = 1;
  readonly #predictFn: Handlers["predictFn"];
  readonly #release: () => Promise<void>;

  constructor(value: unknown, predictFn: Handlers["predictFn"], release: () => Promise<void>) {
    this.value = value;
    this.#predictFn = predictFn;
    this.#release = release;
  }

  async predict(input: unknown, ctx: RequestContext): Promise<unknown> {
    if (this.#predictFn === undefined) {
      throw new InferenceError("This model is served by transformFn, which decodes, predicts and encodes in one call; it has no separate predict step", {
        code: "NO_PREDICT_STEP",
      });
    }
    return this.#predictFn(input, this.value, ctx);
  }

  release(): Promise<void> {
    return this.#release();
  }
}
