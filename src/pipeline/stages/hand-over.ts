/**
 * How a value crosses from one thread to another between stages: by structured clone, with the
 * ArrayBuffers it owns moved (transferred) rather than copied (docs/pipelines.md, "Where stages run").
 */
// A namespace import: Node 20 lacks isMarkedAsUntransferable (21+), and a named import would keep
// the CLI from loading there to say that it needs Node 22.
import * as workerThreads from "node:worker_threads";
import { InferenceError } from "../../errors.js";
import type { RequestContext } from "../../handlers/types.js";
import { markFailedStage } from "./stage-errors.js";

/**
 * The facts of a request a stage on another thread needs to build its `RequestContext`.
 *
 * @example
 * ```ts
 * const facts: RequestFacts = requestFacts(ctx);
 * ```
 */
export type RequestFacts = Pick<
  RequestContext,
  "contentType" | "accept" | "customAttributes" | "responseCustomAttributes" | "inferenceId" | "targetModel" | "targetVariant" | "sessionId" | "parameters"
>;

/**
 * One stage's input on its way to the thread that runs the stage.
 *
 * @example
 * ```ts
 * const call: StageCall = { stage: "recognize", value: lines, transfer: transferablesOf(lines), request: requestFacts(ctx) };
 * ```
 */
export interface StageCall {
  /** The stage's name in its pipeline. */
  readonly stage: string;
  readonly value: unknown;
  /** The buffers `value` owns, moved with it (see {@link transferablesOf}). */
  readonly transfer: readonly ArrayBuffer[];
  readonly request: RequestFacts;
}

/**
 * What a stage on another thread gave back: its output (or early answer) and what it set in the
 * request's context.
 *
 * @example
 * ```ts
 * const answer: StageReturn = { value: reading, transfer: [], early: false, responseCustomAttributes: undefined };
 * ```
 */
export interface StageReturn {
  readonly value: unknown;
  readonly transfer: readonly ArrayBuffer[];
  /** The stage answered early ({@link answerEarly}): the stages after it do not run. */
  readonly early: boolean;
  readonly responseCustomAttributes: string | undefined;
}

/**
 * The ArrayBuffers of `value` that can move to another thread without a copy: those a typed
 * array (an NDArray's data, a Buffer) spans whole, and bare ArrayBuffers, found through plain
 * objects, arrays, Maps and Sets. Buffers Node marks untransferable (its pool of small Buffers,
 * memory a native module lent, such as sharp's output) and views on part of a buffer are left
 * out: structured clone copies them. After the hand-over the moved buffers are detached here.
 *
 * @example
 * ```ts
 * const data = new Float32Array(4);
 * transferablesOf({ tensor: { dtype: "float32", shape: [4], data } }); // [data.buffer]
 * ```
 */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== "object" || current === null || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof ArrayBuffer) {
      if (movable(current)) found.add(current);
    } else if (ArrayBuffer.isView(current)) {
      const buffer = current.buffer;
      if (buffer instanceof ArrayBuffer && current.byteOffset === 0 && current.byteLength === buffer.byteLength && movable(buffer)) found.add(buffer);
    } else if (current instanceof Map) {
      for (const [key, entry] of current) pending.push(key, entry);
    } else if (current instanceof Set || Array.isArray(current)) {
      for (const entry of current as Iterable<unknown>) pending.push(entry);
    } else {
      for (const entry of Object.values(current)) pending.push(entry);
    }
  }
  return [...found];
}

function movable(buffer: ArrayBuffer): boolean {
  return buffer.byteLength > 0 && !workerThreads.isMarkedAsUntransferable(buffer);
}

/**
 * The request facts of `ctx`, for a stage on another thread.
 *
 * @example
 * ```ts
 * const call: StageCall = { stage: "recognize", value, transfer: transferablesOf(value), request: requestFacts(ctx) };
 * ```
 */
export function requestFacts(ctx: RequestContext): RequestFacts {
  return {
    contentType: ctx.contentType,
    accept: ctx.accept,
    customAttributes: ctx.customAttributes,
    responseCustomAttributes: ctx.responseCustomAttributes,
    inferenceId: ctx.inferenceId,
    targetModel: ctx.targetModel,
    targetVariant: ctx.targetVariant,
    sessionId: ctx.sessionId,
    ...(ctx.parameters === undefined ? {} : { parameters: ctx.parameters }),
  };
}

/**
 * The error for a stage input or output that structured clone refused (a function, a class with
 * private fields, a symbol...), naming the stage: a 500, since the handlers, not the request, are
 * at fault.
 *
 * @example
 * ```ts
 * try { port.postMessage(message, transfer); } catch (error) { throw uncloneable(error, "recognize", "input"); }
 * ```
 */
export function uncloneable(error: unknown, stage: string, what: "input" | "output"): InferenceError {
  const reason = error instanceof Error ? error.message : String(error);
  return markFailedStage(
    new InferenceError(
      `Stage "${stage}": its ${what} cannot cross to another thread (${reason}); a stage on workers of its own takes and gives plain data: objects, arrays, strings, numbers, typed arrays`,
      { code: "STAGE_VALUE_NOT_CLONEABLE", cause: error },
    ),
    stage,
  );
}
