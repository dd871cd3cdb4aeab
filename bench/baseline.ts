/**
 * What the two baselines run per request, with no serving layer around it: the in-process
 * floor (bench/floor.ts) times it stage by stage, the minimal server (bench/minimal-server.ts)
 * calls it from a bare `node:http` handler. Three stages: decode the body, run the model, encode
 * the answer. For a tensor request, running is `session.run` alone; for an image, it is the OCR
 * example's `predictFn` (resize and normalise, `session.run`, find the boxes). The ONNX session gets the session options the
 * toolkit would give its own (same environment), so every contender runs the model with the
 * same threads.
 */
import { wholeBody } from "../src/pipeline/inference-pipeline.js";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { pino } from "pino";
import { decodeNpy, encodeNpy } from "../src/codecs/npy.js";
import { loadConfig } from "../src/config/server-config.js";
import { toSessionOptions } from "../src/models/onnx/session-config.js";
import type { HandlerOutput, RequestContext } from "../src/handlers/types.js";
import type { NDArray } from "../src/tensor/ndarray.js";
import { benchModel, benchRequest, modelPaths, type ModelId, type RequestKind } from "./workloads.js";

/**
 * A request's three stages.
 *
 * @example
 * ```ts
 * const pipeline = await createBaseline("mlp", "json-1");
 * const input = await pipeline.decode(body, "application/json");
 * const answer = await pipeline.encode(await pipeline.run(input), "application/json");
 * ```
 */
export interface BaselinePipeline {
  /** What the `run` stage is: `session.run`, or the handler that wraps it. */
  readonly runs: string;
  decode(body: Buffer, contentType: string): Promise<unknown>;
  run(input: unknown): Promise<unknown>;
  encode(output: unknown, accept: string): Promise<{ readonly body: string | Buffer; readonly contentType: string }>;
  release(): Promise<void>;
}

/**
 * The onnxruntime session options the toolkit derives from this environment (its
 * `BYOC_ONNX_*` and `SAGEMAKER_MODEL_SERVER_WORKERS` settings), on the CPU.
 *
 * @example
 * ```ts
 * baselineSessionOptions().intraOpNumThreads; // 2 on 2 cores with the default single worker
 * ```
 */
export function baselineSessionOptions(env: NodeJS.ProcessEnv = process.env): InferenceSession.SessionOptions {
  return toSessionOptions(loadConfig(env).onnx, "cpu");
}

/**
 * The baseline pipeline for one model and request kind: the OCR example's own handlers for image
 * requests, otherwise a tensor in (JSON `instances` or `.npy`) and a tensor out (JSON
 * `predictions` or `.npy`), as a hand-written server would do it.
 *
 * @example
 * ```ts
 * const pipeline = await createBaseline("ocr", "png");
 * ```
 */
export async function createBaseline(model: ModelId, kind: RequestKind): Promise<BaselinePipeline> {
  const session = await InferenceSession.create(modelPaths(model).onnx, baselineSessionOptions());
  const request = benchRequest(benchModel(model), kind);
  return request.viaHandlers === true ? ocrHandlersPipeline(session, request.contentType) : tensorPipeline(session);
}

function tensorPipeline(session: InferenceSession): BaselinePipeline {
  const [inputName = "", outputName = ""] = [session.inputNames[0], session.outputNames[0]];
  return {
    runs: "session.run",
    async decode(body, contentType) {
      if (essence(contentType) === "application/x-npy") return decodeNpy(body);
      const { instances } = JSON.parse(body.toString("utf8")) as { instances: number[][] };
      const columns = instances[0]?.length ?? 0;
      const array: NDArray = { dtype: "float32", shape: [instances.length, columns], data: Float32Array.from(instances.flat()) };
      return array;
    },
    async run(input) {
      const { shape, data } = input as NDArray<"float32">;
      const outputs = await session.run({ [inputName]: new Tensor("float32", data, shape) });
      return outputs[outputName];
    },
    async encode(output, accept) {
      const tensor = output as Tensor;
      const data = tensor.data as Float32Array;
      if (essence(accept) === "application/x-npy") {
        return { body: encodeNpy({ dtype: "float32", shape: tensor.dims, data }), contentType: "application/x-npy" };
      }
      const [rows = 1] = tensor.dims;
      const width = data.length / rows;
      const predictions = Array.from({ length: rows }, (_, row) => Array.from(data.subarray(row * width, (row + 1) * width)));
      return { body: JSON.stringify({ predictions }), contentType: "application/json" };
    },
    release: () => session.release(),
  };
}

async function ocrHandlersPipeline(session: InferenceSession, contentType: string): Promise<BaselinePipeline> {
  const handlers = await import("../examples/ocr/inference.js");
  const ctx: RequestContext = {
    contentType,
    accept: "application/json",
    customAttributes: undefined,
    responseCustomAttributes: undefined,
    inferenceId: "bench",
    targetModel: undefined,
    targetVariant: undefined,
    sessionId: undefined,
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
  };
  return {
    runs: "predictFn: resize, session.run, boxes",
    decode: (body, contentType) => handlers.inputFn(body, contentType),
    run: (input) => handlers.predictFn(input as Awaited<ReturnType<typeof handlers.inputFn>>, session, ctx),
    async encode(output, accept) {
      const answer: HandlerOutput = await handlers.outputFn(output as Awaited<ReturnType<typeof handlers.predictFn>>, accept);
      if (typeof answer === "object" && "contentType" in answer) return { body: bodyOf(await wholeBody(answer.body)), contentType: answer.contentType };
      return { body: bodyOf(await wholeBody(answer)), contentType: "application/json" };
    },
    release: () => session.release(),
  };
}

function bodyOf(body: string | Uint8Array): string | Buffer {
  return typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function essence(mediaType: string): string {
  return (mediaType.split(";")[0] ?? "").trim().toLowerCase();
}
