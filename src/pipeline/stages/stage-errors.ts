/**
 * A failure names the stage it happened in, and keeps its status (docs/pipelines.md, "When a
 * stage fails").
 */

const failedStageKey = Symbol.for("sagemaker-byoc-node.failedStage");

/**
 * The stage of a pipeline of stages in which `error` happened, when it happened in one (see
 * {@link namingStage}): error answers carry it as `error.stage`, and their log lines as `stage`.
 *
 * @example
 * ```ts
 * failedStage(namingStage(new Error("no text"), "recognize")); // "recognize"
 * ```
 */
export function failedStage(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const stage = (error as { [failedStageKey]?: unknown })[failedStageKey];
  return typeof stage === "string" ? stage : undefined;
}

/**
 * Records on `error` the stage it happened in, as {@link failedStage} reads it: for an error
 * rebuilt on another thread.
 *
 * @example
 * ```ts
 * markFailedStage(deserialized, serialized.stage);
 * ```
 */
export function markFailedStage<E extends Error>(error: E, stage: string): E {
  Object.defineProperty(error, failedStageKey, { value: stage, enumerable: false, configurable: true });
  return error;
}

/**
 * `error` with the stage named: at the start of its message (`Stage "recognize": ...`) and in
 * {@link failedStage}, unless a stage is named already (a stage on workers of its own failed, and
 * its error passes back through the stage that called it). The error keeps its class, status,
 * code and cause: an `InferenceError` answers its own status with a message that names the
 * stage; any other error is still a generic 500 for the client, which names the stage, as its
 * log line does. An abort (time limit, client gone) passes unchanged: no stage failed.
 *
 * @example
 * ```ts
 * try { return await stage.run(value, ctx); } catch (error) { throw namingStage(error, "recognize"); }
 * ```
 */
export function namingStage(error: unknown, stage: string): unknown {
  const prefix = `Stage "${stage}": `;
  if (!(error instanceof Error)) return markFailedStage(new Error(`${prefix}${String(error)}`, { cause: error }), stage);
  if (error.name === "AbortError" || error.name === "TimeoutError" || failedStage(error) !== undefined) return error;
  try {
    // V8 writes the stack's first line when the stack is first read, after this.
    error.message = `${prefix}${error.message}`;
    return markFailedStage(error, stage);
  } catch {
    // A message that cannot be set (a DOMException's is read-only): the stage goes on a wrapper.
    const wrapped = new Error(`${prefix}${error.message}`, { cause: error });
    if (error.stack !== undefined) wrapped.stack = `${prefix}${error.stack}`;
    return markFailedStage(wrapped, stage);
  }
}
