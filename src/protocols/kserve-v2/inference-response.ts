import { bytesOf, hostIsLittleEndian, swapByteOrder } from "../../codecs/byte-order.js";
import { checkNDArray, elementsOf, isRecord, typedArrayToNDArray } from "../../codecs/ndarray-convert.js";
import type { EncodedResponse } from "../../codecs/registry.js";
import { BadRequestError, InferenceError, NotAcceptableError } from "../../errors.js";
import type { ModelSignature } from "../../models/model.js";
import { castElements } from "../../tensor/dtype-cast.js";
import { flattenNested, leadingShape } from "../../tensor/nested-array.js";
import { isNDArray, type DType, type NDArray } from "../../tensor/ndarray.js";
import { datatypeForDtype, type V2TensorData } from "./datatypes.js";
import { inferenceHeaderLength, type V2RequestedOutput } from "./inference-request.js";

/**
 * One output tensor of an answer.
 *
 * @example
 * ```ts
 * const output: V2Output = { name: "probabilities", datatype: "FP32", shape: [1, 3], data: { kind: "tensor", array }, parameters: {} };
 * ```
 */
export interface V2Output {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: V2TensorData;
  /** Parameters the server adds to the output (`content_type` of a handler's encoded answer). */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/**
 * What an answer is made of besides its outputs.
 *
 * @example
 * ```ts
 * const answer: V2Answer = { modelName: "iris", id: "42", outputs, requested: undefined, binaryOutput: false };
 * ```
 */
export interface V2Answer {
  readonly modelName: string;
  readonly id: string | undefined;
  readonly outputs: readonly V2Output[];
  /** The outputs the client asked for, in order; `undefined`: all, in the model's order. */
  readonly requested: readonly V2RequestedOutput[] | undefined;
  readonly binaryOutput: boolean;
}

/**
 * A prediction as named output tensors. An NDArray (or typed array, nested array, scalar) is the
 * model's one output, named as its signature names it (`output0` without one); a record is one
 * output per key. Nested arrays of plain values are typed by their elements: numbers FP64,
 * booleans BOOL, strings BYTES, bigints INT64. A prediction that is none of these is a 500.
 *
 * @example
 * ```ts
 * predictionOutputs({ dtype: "float32", shape: [1, 3], data }, signature)[0]?.name; // "probabilities"
 * ```
 */
export function predictionOutputs(prediction: unknown, signature: ModelSignature | undefined): V2Output[] {
  if (isRecord(prediction)) return Object.entries(prediction).map(([name, value]) => toOutput(name, value));
  const [only, ...others] = signature?.outputs ?? [];
  return [toOutput(only !== undefined && others.length === 0 ? only.name : "output0", prediction)];
}

/**
 * A handler's encoded answer (`outputFn`, `transformFn`) as one BYTES output of shape [1], with its
 * media type in the `content_type` parameter (docs/kserve-v2.md, "Custom handlers").
 *
 * @example
 * ```ts
 * encodedOutput("output", { body: '{"label":"setosa"}', contentType: "application/json" });
 * ```
 */
export function encodedOutput(name: string, encoded: EncodedResponse): V2Output {
  const bytes = typeof encoded.body === "string" ? Buffer.from(encoded.body, "utf8") : Buffer.from(encoded.body);
  return { name, datatype: "BYTES", shape: [1], data: { kind: "bytes", elements: [bytes] }, parameters: { content_type: encoded.contentType } };
}

/**
 * Encodes an inference response: JSON when every output goes as JSON data, otherwise the JSON
 * header followed by the binary outputs in order, with the header's length in the
 * `Inference-Header-Content-Length` header (docs/kserve-v2.md). An output is binary when it asks
 * for it (`binary_data`), else when the request does (`binary_data_output`). Asking for an output
 * the prediction does not have is a 400.
 *
 * @example
 * ```ts
 * const { body, contentType, protocolHeaders } = encodeInferenceResponse(answer);
 * ```
 */
export function encodeInferenceResponse(answer: V2Answer): EncodedResponse & { readonly protocolHeaders: Readonly<Record<string, string>> | undefined } {
  const chosen = chooseOutputs(answer);
  const binaries: Uint8Array[] = [];
  const outputs = chosen.map(({ output, binary }) => {
    const fields = `"name":${JSON.stringify(output.name)},"datatype":${JSON.stringify(output.datatype)},"shape":${JSON.stringify(output.shape)}`;
    if (!binary) return `{${fields}${parametersJson(output.parameters)},"data":${jsonData(output)}}`;
    const bytes = binaryData(output.data);
    binaries.push(bytes);
    return `{${fields}${parametersJson({ ...output.parameters, binary_data_size: bytes.byteLength })}}`;
  });
  const id = answer.id === undefined ? "" : `,"id":${JSON.stringify(answer.id)}`;
  const header = `{"model_name":${JSON.stringify(answer.modelName)}${id},"outputs":[${outputs.join(",")}]}`;
  if (binaries.length === 0) return { body: header, contentType: "application/json", protocolHeaders: undefined };
  const headerBytes = Buffer.from(header, "utf8");
  return {
    body: Buffer.concat([headerBytes, ...binaries]),
    contentType: "application/octet-stream",
    protocolHeaders: { [inferenceHeaderLength]: String(headerBytes.length) },
  };
}

function chooseOutputs(answer: V2Answer): { output: V2Output; binary: boolean }[] {
  if (answer.requested === undefined) return answer.outputs.map((output) => ({ output, binary: answer.binaryOutput }));
  const byName = new Map(answer.outputs.map((output) => [output.name, output]));
  return answer.requested.map((wanted) => {
    const output = byName.get(wanted.name);
    if (output === undefined) {
      throw new BadRequestError(`Unknown output "${wanted.name}": the model's outputs are ${[...byName.keys()].join(", ") || "none"}`);
    }
    return { output, binary: wanted.binary ?? answer.binaryOutput };
  });
}

function toOutput(name: string, value: unknown): V2Output {
  const array = toNDArray(value, `output "${name}"`);
  checkNDArray(array);
  const datatype = datatypeForDtype(array.dtype);
  if (array.dtype === "string") {
    const elements = (array.data as string[]).map((text) => Buffer.from(text, "utf8"));
    return { name, datatype, shape: array.shape, data: { kind: "bytes", elements }, parameters: {} };
  }
  return { name, datatype, shape: array.shape, data: { kind: "tensor", array }, parameters: {} };
}

function toNDArray(value: unknown, label: string): NDArray {
  if (isNDArray(value)) return value;
  if (ArrayBuffer.isView(value)) {
    const array = typedArrayToNDArray(value);
    if (array === undefined) throw invalidPrediction(`${label} is a DataView; return a typed array or an NDArray`);
    return array;
  }
  const shape = leadingShape(value);
  let leaves: unknown[];
  try {
    leaves = flattenNested(value, shape, label);
  } catch (error) {
    throw invalidPrediction(`${label} is not a rectangular array: ${(error as Error).message}`);
  }
  const dtype = elementDtype(leaves, label);
  return { dtype, shape, data: castElements(leaves, dtype, shape, label) };
}

function elementDtype(leaves: readonly unknown[], label: string): DType {
  const kinds = new Set(leaves.map((leaf) => typeof leaf));
  const [kind, ...others] = kinds;
  if (others.length === 0) {
    if (kind === undefined || kind === "number") return "float64";
    if (kind === "boolean") return "bool";
    if (kind === "string") return "string";
    if (kind === "bigint") return "int64";
  }
  throw invalidPrediction(`${label} holds ${[...kinds].join(" and ")} values, which no tensor datatype holds: return numbers, booleans, strings or an NDArray`);
}

function invalidPrediction(message: string): InferenceError {
  return new InferenceError(message, { code: "INVALID_PREDICTION" });
}

function parametersJson(parameters: Readonly<Record<string, unknown>>): string {
  return Object.keys(parameters).length === 0 ? "" : `,"parameters":${JSON.stringify(parameters)}`;
}

/** Flattened row-major data (the protocol allows it); 64-bit integers keep every digit. */
function jsonData(output: V2Output): string {
  const { data } = output;
  if (data.kind === "bytes") return JSON.stringify(data.elements.map((element) => utf8Text(element, output.name)));
  return `[${elementsOf(data.array).map(jsonElement).join(",")}]`;
}

function jsonElement(element: unknown): string {
  return typeof element === "bigint" ? String(element) : JSON.stringify(element);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function utf8Text(bytes: Buffer, name: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new NotAcceptableError(`Output "${name}" holds bytes that are not UTF-8 text, which JSON cannot carry: ask for it as binary data ("binary_data": true)`);
  }
}

/** Little-endian, row-major; BOOL one byte 0 or 1; BYTES a 4-byte little-endian length before each element. */
function binaryData(data: V2TensorData): Uint8Array {
  if (data.kind === "bytes") {
    const parts: Buffer[] = [];
    for (const element of data.elements) {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(element.length);
      parts.push(length, element);
    }
    return Buffer.concat(parts);
  }
  const { array } = data;
  if (array.dtype === "bool") return Uint8Array.from(array.data as Uint8Array, (byte) => (byte === 0 ? 0 : 1));
  const view = array.data as ArrayBufferView & { readonly BYTES_PER_ELEMENT: number };
  return hostIsLittleEndian ? bytesOf(view) : swapByteOrder(bytesOf(view), view.BYTES_PER_ELEMENT);
}
