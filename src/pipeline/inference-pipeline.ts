import type { Logger } from "pino";
import type { EncodedBody } from "../codecs/codec.js";
import type { CodecRegistry, EncodedResponse } from "../codecs/registry.js";
import { InferenceError } from "../errors.js";
import type { HandlerOutput, Handlers, RequestContext, ResponseStream } from "../handlers/types.js";
import { parseMediaType } from "../codecs/media-type.js";
import type { BatchRun, Model, PredictNotes } from "../models/model.js";

/**
 * The front door a request came in by. Requests of another protocol than SageMaker's are run by
 * that protocol's adapter in the worker (see `dispatch/protocol-fronts.ts`), which maps its own
 * request and response shapes onto the model: KServe V2 inference and model metadata
 * (`kserve-v2-metadata`, answered from the model and its handlers; docs/kserve-v2.md), and Vertex
 * AI prediction (docs/vertex.md).
 */
export type InvocationProtocol = "sagemaker" | "kserve-v2" | "kserve-v2-metadata" | "vertex";

/** One inference request, as the HTTP layer or the async worker hands it over. */
export interface InvocationRequest {
  readonly body: Buffer;
  /** Content-Type header as sent; `undefined` when absent. */
  readonly contentType: string | undefined;
  /** Accept header as sent; `undefined` when absent. */
  readonly accept: string | undefined;
  readonly customAttributes: string | undefined;
  readonly inferenceId: string;
  readonly targetModel: string | undefined;
  readonly targetVariant: string | undefined;
  readonly sessionId: string | undefined;
  /** The front door; absent for SageMaker's `/invocations` (and the async worker, which uses it). */
  readonly protocol?: InvocationProtocol;
  /**
   * Request headers of the front door's own protocol that its adapter reads, by lower-case name
   * (KServe V2's `inference-header-content-length`).
   */
  readonly protocolHeaders?: Readonly<Record<string, string>>;
}

/**
 * Where one request's time went, in milliseconds: waiting for a worker (`queueMs`, with the
 * hand-over to it), decoding, the model, encoding; for a pipeline of stages, each stage that ran
 * (within `predictMs`), by name.
 */
export interface StageTimings {
  readonly queueMs: number;
  readonly decodeMs: number;
  readonly predictMs: number;
  readonly encodeMs: number;
  /** A pipeline of stages' own stages, in the order they ran (docs/pipelines.md); absent for other models. */
  readonly stages?: Readonly<Record<string, number>>;
  /**
   * The `session.run` this request led, when its model batches requests (docs/metrics.md): set on
   * the first request of each run only, so each run is counted once.
   */
  readonly batch?: BatchRun;
}

/** The encoded answer to an {@link InvocationRequest}: whole, or a stream of chunks. */
export interface InvocationResult {
  readonly body: EncodedBody | ResponseStream;
  readonly contentType: string;
  /** `X-Amzn-SageMaker-Custom-Attributes` to send back, if the handlers set one. */
  readonly customAttributes: string | undefined;
  /** Where the time went, when the request ran through the pipeline (the worker pool fills `queueMs`). */
  readonly timings?: StageTimings;
  /** Response headers of the front door's own protocol (KServe V2's `inference-header-content-length`). */
  readonly protocolHeaders?: Readonly<Record<string, string>>;
}

/**
 * What a front door other than SageMaker's `/invocations` changes in the pipeline's run. Its
 * adapter has decoded the request its own way (a KServe V2 tensor set, the instances of a Vertex
 * AI request) and may encode the prediction its own way; the user's handlers still come first:
 * an `inputFn` gets the request body rather than `decoded`, an `outputFn` encodes rather than
 * `encode`, and `transformFn` replaces all three.
 *
 * @example
 * ```ts
 * const stages: FrontDoorStages = { decoded: { value: instances }, parameters: { temperature: 0.2 } };
 * await pipeline.invoke(request, scope, stages);
 * ```
 */
export interface FrontDoorStages {
  /** The request as the front door decoded it: what the model gets when there is no `inputFn`. */
  readonly decoded?: { readonly value: unknown };
  /** Encodes the prediction when there is no `outputFn`, in place of the codec chosen by Accept. */
  readonly encode?: (prediction: unknown, ctx: RequestContext) => EncodedResponse | Promise<EncodedResponse>;
  /** The request's parameters, handed to the handlers as `ctx.parameters`. */
  readonly parameters?: Readonly<Record<string, unknown>>;
}

/** Settings the pipeline needs. */
export interface PipelineOptions {
  readonly defaultAccept: string;
  readonly defaultContentType: string;
}

const maxCustomAttributesLength = 1024;
const visibleAscii = /^[\x20-\x7e]*$/;

/**
 * decode → predict → encode, with the user's handlers or the defaults, around a {@link Model}.
 * Knows nothing of HTTP: every front door (`/invocations`, the async worker) calls
 * {@link InferencePipeline.invoke}.
 *
 * @example
 * ```ts
 * const pipeline = new InferencePipeline(handlers, loaded.model, codecs, { defaultAccept: "application/json", defaultContentType: "application/json" });
 * const result = await pipeline.invoke(request, { log, signal });
 * ```
 */
export class InferencePipeline {
  readonly #handlers: Handlers;
  readonly #model: Model;
  readonly #codecs: CodecRegistry;
  readonly #options: PipelineOptions;

  constructor(handlers: Handlers, model: Model, codecs: CodecRegistry, options: PipelineOptions) {
    this.#handlers = handlers;
    this.#model = model;
    this.#codecs = codecs;
    this.#options = options;
  }

  /**
   * Runs one request through the handlers, with a front door's own decoding and encoding when
   * `stages` gives them. Errors propagate as thrown (see `errors.ts`).
   */
  async invoke(request: InvocationRequest, scope: { log: Logger; signal: AbortSignal }, stages: FrontDoorStages = {}): Promise<InvocationResult> {
    const contentType = request.contentType?.trim() || this.#options.defaultContentType;
    const accept = normaliseAccept(request.accept, this.#options.defaultAccept);
    const ctx: RequestContext = {
      contentType,
      accept,
      customAttributes: request.customAttributes,
      responseCustomAttributes: undefined,
      inferenceId: request.inferenceId,
      targetModel: request.targetModel,
      targetVariant: request.targetVariant,
      sessionId: request.sessionId,
      ...(stages.parameters === undefined ? {} : { parameters: stages.parameters }),
      log: scope.log,
      signal: scope.signal,
    };
    const clock = new StageClock();
    const output = await this.#run(request.body, ctx, clock, stages);
    const result = this.#toResult(output, accept);
    clock.lap("encodeMs");
    return { ...result, customAttributes: checkedCustomAttributes(ctx.responseCustomAttributes), timings: clock.result() };
  }

  async #run(body: Buffer, ctx: RequestContext, clock: StageClock, stages: FrontDoorStages): Promise<HandlerOutput> {
    const { transformFn, inputFn, outputFn } = this.#handlers;
    if (transformFn) {
      const output = await transformFn(this.#model.value, body, ctx.contentType, ctx.accept, ctx);
      clock.lap("predictMs");
      return output;
    }
    // With the default encoder, settle the response type first: a 406 should not cost an inference.
    const responseType = outputFn || stages.encode ? undefined : this.#codecs.negotiate(ctx.accept, this.#options.defaultAccept);
    const input = inputFn
      ? await inputFn(body, ctx.contentType, ctx)
      : stages.decoded !== undefined
        ? stages.decoded.value
        : await this.#codecs.decode(body, ctx.contentType, { numericArrays: this.#model.numericInput });
    ctx.signal.throwIfAborted();
    clock.lap("decodeMs");
    const prediction = await this.#model.predict(input, ctx, clock);
    ctx.signal.throwIfAborted();
    clock.lap("predictMs");
    if (outputFn) return outputFn(prediction, ctx.accept, ctx);
    if (stages.encode) return stages.encode(prediction, ctx);
    return this.#codecs.encode(prediction, responseType as string);
  }

  /** A bare body from a user's handler is labelled with the Accept type when that names one type. */
  #toResult(output: HandlerOutput, accept: string): { body: EncodedBody | ResponseStream; contentType: string } {
    if (isBody(output)) return { body: output, contentType: singleMediaType(accept) ?? this.#options.defaultAccept };
    if (typeof output === "object" && output !== null && "body" in output && typeof output.contentType === "string" && isBody(output.body)) {
      return output;
    }
    throw new InferenceError(
      "outputFn/transformFn must return a string, a Uint8Array/Buffer, an async iterable of them, or { body, contentType }",
      { code: "INVALID_HANDLER_OUTPUT" },
    );
  }
}

/**
 * Splits the time of one request into stages: each lap is the time since the previous one. The
 * model notes its own stages' times and the batched run this request led here ({@link PredictNotes}).
 */
class StageClock implements PredictNotes {
  readonly timings = { queueMs: 0, decodeMs: 0, predictMs: 0, encodeMs: 0 };
  readonly stageTimes: Record<string, number> = {};
  batchRun: BatchRun | undefined = undefined;
  #last = performance.now();

  lap(stage: "decodeMs" | "predictMs" | "encodeMs"): void {
    const now = performance.now();
    this.timings[stage] = now - this.#last;
    this.#last = now;
  }

  result(): StageTimings {
    const hasStages = Object.keys(this.stageTimes).length > 0;
    if (!hasStages && this.batchRun === undefined) return this.timings;
    return { ...this.timings, ...(hasStages ? { stages: this.stageTimes } : {}), ...(this.batchRun === undefined ? {} : { batch: this.batchRun }) };
  }
}

/**
 * True for a body: text, bytes, or an async iterable of chunks.
 *
 * @example
 * ```ts
 * isStream(result.body); // false for a string or bytes
 * ```
 */
export function isStream(body: unknown): body is ResponseStream {
  return typeof body === "object" && body !== null && !(body instanceof Uint8Array) && typeof (body as Partial<ResponseStream>)[Symbol.asyncIterator] === "function";
}

/**
 * The whole body of an answer, read to its end when it is a stream: for the callers that store an
 * answer rather than send it on (the async worker writes it to S3).
 *
 * @example
 * ```ts
 * const bytes = await wholeBody(result.body);
 * ```
 */
export async function wholeBody(body: EncodedBody | ResponseStream): Promise<Uint8Array | string> {
  if (!isStream(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}

function isBody(value: unknown): value is EncodedBody | ResponseStream {
  return typeof value === "string" || value instanceof Uint8Array || isStream(value);
}

function normaliseAccept(accept: string | undefined, defaultAccept: string): string {
  const trimmed = accept?.trim();
  return trimmed === undefined || trimmed === "" || trimmed === "*/*" ? defaultAccept : trimmed;
}

function singleMediaType(accept: string): string | undefined {
  if (accept.includes(",") || accept.includes("*")) return undefined;
  try {
    return parseMediaType(accept).essence;
  } catch {
    return undefined;
  }
}

function checkedCustomAttributes(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length > maxCustomAttributesLength || !visibleAscii.test(value)) {
    throw new InferenceError(
      `responseCustomAttributes must be at most ${maxCustomAttributesLength} visible ASCII characters`,
      { code: "INVALID_CUSTOM_ATTRIBUTES" },
    );
  }
  return value;
}
