import { BadRequestError } from "../../errors.js";
import type { Handlers } from "../../handlers/types.js";
import type { ModelSignature, TensorSpec } from "../../models/model.js";
import { OnnxModel } from "../../models/onnx/onnx-model.js";
import { wholeBody, type FrontDoorStages, type InvocationRequest, type InvocationResult, type StageTimings } from "../../pipeline/inference-pipeline.js";
import type { NDArray } from "../../tensor/ndarray.js";
import type { HostedModel, ProtocolFront } from "../../dispatch/protocol-fronts.js";
import { datatypeForDtype, type V2TensorData } from "./datatypes.js";
import { inferenceHeaderLength, parseInferenceRequest, type V2InferenceRequest, type V2Input } from "./inference-request.js";
import { encodedOutput, encodeInferenceResponse, predictionOutputs } from "./inference-response.js";

/** The one input and output a model whose handlers read and write bodies takes and gives. */
const bodyInput = "input";
const bodyOutput = "output";

/**
 * Runs a KServe V2 inference request on a hosted model, in the worker thread: parses the JSON
 * (and binary) request, checks its inputs against the model's signature, runs the handlers and
 * encodes the answer (docs/kserve-v2.md). The handlers map as follows:
 *
 * - without `inputFn`, the input tensors are what the model gets: a record of NDArrays by input
 *   name, as the default `predictFn` takes them; with `inputFn` (or `transformFn`), the request
 *   carries one BYTES element, the body they read, with its media type in the input's
 *   `content_type` parameter;
 * - without `outputFn`, the prediction becomes the output tensors; with `outputFn` (or
 *   `transformFn`), its answer becomes one BYTES output, `output`, with its media type in
 *   `content_type`;
 * - the request's `parameters` reach the handlers as `ctx.parameters`.
 *
 * @example
 * ```ts
 * const result = await inferKserveV2(hosted, request, { log, signal });
 * ```
 */
export const inferKserveV2: ProtocolFront = async (hosted, request, scope) => {
  const started = performance.now();
  const readsBody = hosted.handlers.inputFn !== undefined || hosted.handlers.transformFn !== undefined;
  const writesBody = hosted.handlers.outputFn !== undefined || hosted.handlers.transformFn !== undefined;
  const signature = hosted.model.signature;
  const parsed = parseInferenceRequest(request.body, request.protocolHeaders?.[inferenceHeaderLength], readsBody ? undefined : signature);
  if (!readsBody && signature !== undefined) checkInputs(parsed.inputs, signature);
  if (!writesBody && signature !== undefined) checkRequestedOutputs(parsed, signature);
  if (writesBody && (parsed.outputs?.length ?? 0) > 1) {
    throw new BadRequestError(`This model's outputFn gives one encoded answer, output "${bodyOutput}"; ask for one output at most`);
  }
  let encodedHeaders: Readonly<Record<string, string>> | undefined;
  const stages: FrontDoorStages = {
    ...(parsed.parameters === undefined ? {} : { parameters: parsed.parameters }),
    ...(readsBody ? {} : { decoded: { value: modelInputs(parsed.inputs) } }),
    encode: (prediction) => {
      const encoded = encodeInferenceResponse({ ...answerOf(hosted, parsed), outputs: predictionOutputs(prediction, signature) });
      encodedHeaders = encoded.protocolHeaders;
      return { body: encoded.body, contentType: encoded.contentType };
    },
  };
  const parseMs = performance.now() - started;
  const result = await hosted.pipeline.invoke(pipelineRequest(request, parsed, readsBody), scope, stages);
  if (!writesBody) return withTimings({ ...result, ...(encodedHeaders === undefined ? {} : { protocolHeaders: encodedHeaders }) }, parseMs, 0);
  const wrapStarted = performance.now();
  const name = parsed.outputs?.[0]?.name ?? bodyOutput;
  const encoded = encodeInferenceResponse({ ...answerOf(hosted, parsed), outputs: [encodedOutput(name, { body: await wholeBody(result.body), contentType: result.contentType })] });
  return withTimings(
    {
      body: encoded.body,
      contentType: encoded.contentType,
      customAttributes: result.customAttributes,
      ...(result.timings === undefined ? {} : { timings: result.timings }),
      ...(encoded.protocolHeaders === undefined ? {} : { protocolHeaders: encoded.protocolHeaders }),
    },
    parseMs,
    performance.now() - wrapStarted,
  );
};

/**
 * A hosted model's KServe V2 metadata (docs/kserve-v2.md): its inputs and outputs from the ONNX
 * session's signature, with variable dimensions as -1; for handlers that read or write bodies,
 * the one BYTES input or output they take or give instead. The platform is `onnx_onnxv1` for a
 * model served by the toolkit's ONNX runner, `node_handlers` for one served by the user's
 * `predictFn` or `transformFn`.
 *
 * @example
 * ```ts
 * const result = await describeKserveV2(hosted, request, { log, signal }); // body: {"name":"iris","platform":"onnx_onnxv1",...}
 * ```
 */
export const describeKserveV2: ProtocolFront = (hosted) => {
  const body = JSON.stringify(modelMetadata(hosted));
  return Promise.resolve({ body, contentType: "application/json", customAttributes: undefined });
};

function modelMetadata(hosted: HostedModel): object {
  const { handlers, model } = hosted;
  const signature = model.signature;
  const bodyTensor = (name: string): object => ({ name, datatype: "BYTES", shape: [1] });
  return {
    name: hosted.name,
    platform: model instanceof OnnxModel ? "onnx_onnxv1" : "node_handlers",
    inputs: readsBodies(handlers) ? [bodyTensor(bodyInput)] : (signature?.inputs.map(tensorMetadata) ?? []),
    outputs: writesBodies(handlers) ? [bodyTensor(bodyOutput)] : (signature?.outputs.map(tensorMetadata) ?? []),
  };
}

function readsBodies(handlers: Handlers): boolean {
  return handlers.inputFn !== undefined || handlers.transformFn !== undefined;
}

function writesBodies(handlers: Handlers): boolean {
  return handlers.outputFn !== undefined || handlers.transformFn !== undefined;
}

function tensorMetadata(spec: TensorSpec): object {
  return { name: spec.name, datatype: datatypeForDtype(spec.dtype), shape: spec.shape.map((dim) => (typeof dim === "number" && dim >= 0 ? dim : -1)) };
}

function answerOf(hosted: HostedModel, parsed: V2InferenceRequest): { modelName: string; id: string | undefined; requested: V2InferenceRequest["outputs"]; binaryOutput: boolean } {
  return { modelName: hosted.name, id: parsed.id, requested: parsed.outputs, binaryOutput: parsed.binaryOutput };
}

/**
 * The request the pipeline runs: for handlers that read bodies, the one BYTES element with the
 * media type its `content_type` parameter gives; the media type handlers answer in comes from the
 * `content_type` parameter of the output asked for. Absent, the server's defaults apply, not the
 * HTTP headers, which describe the V2 envelope.
 */
function pipelineRequest(request: InvocationRequest, parsed: V2InferenceRequest, readsBody: boolean): InvocationRequest {
  const { contentType: _envelopeType, accept: _envelopeAccept, ...rest } = request;
  const accept = mediaTypeParameter(parsed.outputs?.[0]?.parameters);
  if (!readsBody) return { ...rest, contentType: undefined, accept };
  const [input, ...others] = parsed.inputs;
  const element = input?.data.kind === "bytes" && input.data.elements.length === 1 ? input.data.elements[0] : undefined;
  if (input === undefined || others.length > 0 || element === undefined) {
    throw new BadRequestError(
      `This model's handlers read the request body (inputFn): send one BYTES input with one element, the body, and its media type in parameters.content_type`,
    );
  }
  return { ...rest, body: element, contentType: mediaTypeParameter(input.parameters) ?? mediaTypeParameter(parsed.parameters), accept };
}

function mediaTypeParameter(parameters: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = parameters?.["content_type"];
  return typeof value === "string" ? value : undefined;
}

function checkInputs(inputs: readonly V2Input[], signature: ModelSignature): void {
  const names = signature.inputs.map((spec) => spec.name);
  const expected = `the model's inputs are ${names.join(", ")}`;
  const given = new Map(inputs.map((input) => [input.name, input]));
  for (const input of inputs) if (!names.includes(input.name)) throw new BadRequestError(`Unknown input "${input.name}": ${expected}`);
  for (const spec of signature.inputs) {
    const input = given.get(spec.name);
    if (input === undefined) throw new BadRequestError(`Missing input "${spec.name}": ${expected}`);
    const datatype = datatypeForDtype(spec.dtype);
    if (input.datatype !== datatype) throw new BadRequestError(`Input "${spec.name}" has datatype ${input.datatype}, but the model takes ${datatype}`);
    const fits = input.shape.length === spec.shape.length && spec.shape.every((dim, axis) => typeof dim !== "number" || dim < 0 || dim === input.shape[axis]);
    if (!fits) {
      const wanted = spec.shape.map((dim) => (typeof dim === "number" && dim >= 0 ? dim : -1)).join(", ");
      throw new BadRequestError(`Input "${spec.name}" has shape [${input.shape.join(", ")}], but the model takes [${wanted}] (-1: any size)`);
    }
  }
}

function checkRequestedOutputs(parsed: V2InferenceRequest, signature: ModelSignature): void {
  const names = signature.outputs.map((spec) => spec.name);
  for (const wanted of parsed.outputs ?? []) {
    if (!names.includes(wanted.name)) throw new BadRequestError(`Unknown output "${wanted.name}": the model's outputs are ${names.join(", ")}`);
  }
}

/** The inputs as the model takes them: NDArrays by name, BYTES elements as UTF-8 strings. */
function modelInputs(inputs: readonly V2Input[]): Record<string, NDArray> {
  return Object.fromEntries(inputs.map((input) => [input.name, toModelArray(input.data, input.shape, input.name)]));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function toModelArray(data: V2TensorData, shape: readonly number[], name: string): NDArray {
  if (data.kind === "tensor") return data.array;
  const strings = data.elements.map((element, index) => {
    try {
      return strictUtf8.decode(element);
    } catch {
      throw new BadRequestError(`Input "${name}": BYTES element ${index} is not UTF-8 text, and the model takes strings`);
    }
  });
  return { dtype: "string", shape, data: strings };
}

/** The front door's own parsing counts as decoding, its wrapping of a handler's answer as encoding. */
function withTimings(result: InvocationResult, extraDecodeMs: number, extraEncodeMs: number): InvocationResult {
  const timings: StageTimings | undefined = result.timings;
  if (timings === undefined) return result;
  return { ...result, timings: { ...timings, decodeMs: timings.decodeMs + extraDecodeMs, encodeMs: timings.encodeMs + extraEncodeMs } };
}
