/**
 * A failure names the stage it happened in, and keeps its status (docs/stages.md, "Errors").
 */

const stagePrefix = /^Stage "[^"]+": /;

/**
 * `error` with the stage named at the start of its message (`Stage "recognize": ...`), unless a
 * stage is named there already. The error keeps its class, status, code and cause: an
 * `InferenceError` answers its own status with a message that names the stage; any other error
 * is still a generic 500 for the client, and its log line names the stage. An abort (time limit,
 * client gone) passes unchanged: no stage failed.
 *
 * @example
 * ```ts
 * try { return await stage.run(value, ctx); } catch (error) { throw namingStage(error, "recognize"); }
 * ```
 */
export function namingStage(error: unknown, stage: string): unknown {
  const prefix = `Stage "${stage}": `;
  if (!(error instanceof Error)) return new Error(`${prefix}${String(error)}`, { cause: error });
  if (error.name === "AbortError" || error.name === "TimeoutError" || stagePrefix.test(error.message)) return error;
  try {
    // V8 writes the stack's first line when the stack is first read, after this.
    error.message = `${prefix}${error.message}`;
    return error;
  } catch {
    // A message that cannot be set (a DOMException's is read-only): the stage goes on a wrapper.
    const wrapped = new Error(`${prefix}${error.message}`, { cause: error });
    if (error.stack !== undefined) wrapped.stack = `${prefix}${error.stack}`;
    return wrapped;
  }
}
