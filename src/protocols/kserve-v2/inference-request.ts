import { BadRequestError } from "../../errors.js";
import type { ModelSignature, TensorSpec } from "../../models/model.js";
import { hostIsLittleEndian, swapByteOrder } from "../../codecs/byte-order.js";
import { castElements } from "../../tensor/dtype-cast.js";
import { flattenNested, leadingShape } from "../../tensor/nested-array.js";
import { elementCount, storageConstructors, type NumericDType } from "../../tensor/ndarray.js";
import { datatypeForDtype, dtypeForDatatype, isV2Datatype, type V2Datatype, type V2TensorData } from "./datatypes.js";

/**
 * The header a binary request gives the length of its JSON part in (docs/kserve-v2.md, binary
 * tensor data extension), lower-case as Node reports it.
 */
export const inferenceHeaderLength = "inference-header-content-length";

/**
 * An input tensor as the client sent it, with its parameters.
 *
 * @example
 * ```ts
 * const input: V2Input = { name: "x", datatype: "FP32", shape: [1, 4], parameters: {}, data: { kind: "tensor", array } };
 * ```
 */
export interface V2Input {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly data: V2TensorData;
}

/**
 * An output the client asked for, and whether as binary data (`undefined`: as the request's
 * `binary_data_output` says).
 *
 * @example
 * ```ts
 * const wanted: V2RequestedOutput = { name: "probabilities", binary: true, parameters: { binary_data: true } };
 * ```
 */
export interface V2RequestedOutput {
  readonly name: string;
  readonly binary: boolean | undefined;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/**
 * An inference request, parsed and checked for form (not yet against the model).
 *
 * @example
 * ```ts
 * const request = parseInferenceRequest(body, "112", signature);
 * request.inputs[0]?.name; // "input0"
 * ```
 */
export interface V2InferenceRequest {
  readonly id: string | undefined;
  readonly parameters: Readonly<Record<string, unknown>> | undefined;
  readonly inputs: readonly V2Input[];
  /** The outputs asked for, in the order to answer them; `undefined`: all of them. */
  readonly outputs: readonly V2RequestedOutput[] | undefined;
  /** `binary_data_output`: every output as binary data unless it says otherwise. */
  readonly binaryOutput: boolean;
}

/**
 * Parses a `POST .../infer` body: a JSON inference request, followed by the binary data of its
 * tensors when `headerLength` (the `Inference-Header-Content-Length` header) is given. A header
 * length of 0 is the extension's raw binary request: the whole body is the data of the model's
 * single input, whose shape `signature` gives (at most one variable dimension, sized from the
 * body). Every malformed part is a 400 naming the input, output or field at fault.
 *
 * @example
 * ```ts
 * const request = parseInferenceRequest(Buffer.from('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'), undefined, undefined);
 * ```
 */
export function parseInferenceRequest(body: Buffer, headerLength: string | undefined, signature: ModelSignature | undefined): V2InferenceRequest {
  const jsonLength = headerLength === undefined ? body.length : parseHeaderLength(headerLength, body.length);
  if (jsonLength === 0) return rawBinaryRequest(body, signature);
  const header = parseJson(body.subarray(0, jsonLength));
  const binary = new BinarySection(body.subarray(jsonLength));
  if (!isObject(header)) throw new BadRequestError("The inference request must be a JSON object");
  const { id, parameters, inputs, outputs } = header;
  if (id !== undefined && typeof id !== "string") throw new BadRequestError('"id" must be a string');
  const requestParameters = parametersOf(parameters, "the request");
  if (!Array.isArray(inputs)) throw new BadRequestError('"inputs" must be an array of input tensors');
  const seen = new Set<string>();
  const parsedInputs = inputs.map((input: unknown, index) => {
    const parsed = parseInput(input, index, binary);
    if (seen.has(parsed.name)) throw new BadRequestError(`Input "${parsed.name}" is given twice`);
    seen.add(parsed.name);
    return parsed;
  });
  binary.checkConsumed();
  const binaryOutput = requestParameters?.["binary_data_output"];
  if (binaryOutput !== undefined && typeof binaryOutput !== "boolean") throw new BadRequestError('"binary_data_output" must be true or false');
  return {
    id,
    parameters: requestParameters,
    inputs: parsedInputs,
    outputs: outputs === undefined ? undefined : parseOutputs(outputs),
    binaryOutput: binaryOutput ?? false,
  };
}

function parseHeaderLength(written: string, bodyLength: number): number {
  const length = /^\d+$/.test(written.trim()) ? Number(written) : Number.NaN;
  if (!Number.isSafeInteger(length) || length > bodyLength) {
    throw new BadRequestError(`Inference-Header-Content-Length must be a whole number of bytes from 0 to the body's ${bodyLength}, got ${JSON.stringify(written)}`);
  }
  return length;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new BadRequestError(`Invalid JSON in the inference request: ${(error as Error).message}`, { code: "INVALID_JSON", cause: error });
  }
}

function parseInput(input: unknown, index: number, binary: BinarySection): V2Input {
  if (!isObject(input)) throw new BadRequestError(`inputs[${index}] must be an object with name, shape, datatype and data`);
  const { name } = input;
  if (typeof name !== "string" || name === "") throw new BadRequestError(`inputs[${index}] needs a "name"`);
  const label = `input "${name}"`;
  const shape = parseShape(input["shape"], label);
  const datatype = input["datatype"];
  if (!isV2Datatype(datatype)) {
    throw new BadRequestError(`${label} has datatype ${JSON.stringify(datatype)}; use one of BOOL, UINT8-64, INT8-64, FP16, FP32, FP64, BYTES`);
  }
  const parameters = parametersOf(input["parameters"], label) ?? {};
  const size = parameters["binary_data_size"];
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw new BadRequestError(`${label}: binary_data_size must be a whole number of bytes`);
    if (input["data"] !== undefined) throw new BadRequestError(`${label} has both "data" and binary_data_size; send one`);
    return { name, datatype, shape, parameters, data: decodeBinary(binary.take(size as number, label), datatype, shape, label) };
  }
  if (!Object.hasOwn(input, "data")) throw new BadRequestError(`${label} has no "data" (nor binary_data_size)`);
  return { name, datatype, shape, parameters, data: decodeJsonData(input["data"], datatype, shape, label) };
}

function parseShape(shape: unknown, label: string): number[] {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && (dim as number) >= 0)) {
    throw new BadRequestError(`${label}: "shape" must be an array of whole numbers, at least 0`);
  }
  return shape as number[];
}

function parseOutputs(outputs: unknown): V2RequestedOutput[] {
  if (!Array.isArray(outputs)) throw new BadRequestError('"outputs" must be an array of {"name": ...}');
  return outputs.map((output: unknown, index) => {
    if (!isObject(output) || typeof output["name"] !== "string") throw new BadRequestError(`outputs[${index}] needs a "name"`);
    const name = output["name"];
    const parameters = parametersOf(output["parameters"], `output "${name}"`) ?? {};
    const binary = parameters["binary_data"];
    if (binary !== undefined && typeof binary !== "boolean") throw new BadRequestError(`output "${name}": binary_data must be true or false`);
    if (parameters["classification"] !== undefined) {
      throw new BadRequestError(`output "${name}": the classification extension is not supported; ask for the output itself`);
    }
    return { name, binary, parameters };
  });
}

function parametersOf(value: unknown, owner: string): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new BadRequestError(`The parameters of ${owner} must be an object`);
  return value;
}

/** JSON data, in the tensor's natural nesting or flattened (docs/kserve-v2.md), as the datatype holds it. */
function decodeJsonData(data: unknown, datatype: V2Datatype, shape: readonly number[], label: string): V2TensorData {
  if (!Array.isArray(data)) throw new BadRequestError(`${label}: "data" must be an array`);
  const count = elementCount(shape);
  const nested = leadingShape(data);
  let leaves: unknown[];
  if (nested.length === shape.length && nested.every((dim, axis) => dim === shape[axis])) {
    leaves = flattenNested(data, shape, label);
  } else if (data.every((element) => !Array.isArray(element))) {
    leaves = data;
  } else {
    throw new BadRequestError(`${label}: "data" must be nested as the shape [${shape.join(", ")}] says, or flat`);
  }
  if (leaves.length !== count) {
    throw new BadRequestError(`${label} has shape [${shape.join(", ")}], which holds ${count} values, but "data" has ${leaves.length}`);
  }
  if (datatype === "BYTES") {
    const elements = leaves.map((leaf, index) => {
      if (typeof leaf !== "string") throw new BadRequestError(`${label} is BYTES: its data must be strings, got ${typeof leaf} at ${index}`);
      return Buffer.from(leaf, "utf8");
    });
    return { kind: "bytes", elements };
  }
  const dtype = dtypeForDatatype(datatype);
  return { kind: "tensor", array: { dtype, shape, data: castElements(leaves, dtype, shape, label) } };
}

/**
 * Binary data: little-endian, row-major, BOOL as one byte 0 or 1, BYTES as a 4-byte little-endian
 * length before each element. Copied into storage of its own: the body's bytes are not aligned
 * for a typed array, and the tensor outlives the request buffer.
 */
function decodeBinary(bytes: Buffer, datatype: V2Datatype, shape: readonly number[], label: string): V2TensorData {
  const count = elementCount(shape);
  if (datatype === "BYTES") return { kind: "bytes", elements: splitBytesElements(bytes, count, label) };
  const dtype = dtypeForDatatype(datatype) as NumericDType;
  const Storage = storageConstructors[dtype];
  const expected = count * Storage.BYTES_PER_ELEMENT;
  if (bytes.length !== expected) {
    throw new BadRequestError(`${label}: binary_data_size is ${bytes.length} bytes, but shape [${shape.join(", ")}] of ${datatype} takes ${expected}`);
  }
  const copy = hostIsLittleEndian ? new Uint8Array(bytes) : swapByteOrder(bytes, Storage.BYTES_PER_ELEMENT);
  if (datatype === "BOOL") {
    const invalid = copy.findIndex((byte) => byte > 1);
    if (invalid >= 0) throw new BadRequestError(`${label} is BOOL: each byte must be 0 or 1, got ${copy[invalid]} at ${invalid}`);
  }
  return { kind: "tensor", array: { dtype, shape, data: new Storage(copy.buffer, 0, count) } };
}

function splitBytesElements(bytes: Buffer, count: number, label: string): Buffer[] {
  const elements: Buffer[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw new BadRequestError(`${label}: BYTES element ${elements.length} is cut inside its 4-byte length`);
    const length = bytes.readUInt32LE(offset);
    offset += 4;
    if (offset + length > bytes.length) throw new BadRequestError(`${label}: BYTES element ${elements.length} says ${length} bytes, but fewer follow`);
    elements.push(Buffer.from(bytes.subarray(offset, offset + length)));
    offset += length;
  }
  if (elements.length !== count) throw new BadRequestError(`${label} has ${elements.length} BYTES elements in its binary data, but its shape holds ${count}`);
  return elements;
}

/** The extension's raw binary request: the body is the one input's data, its shape from the model. */
function rawBinaryRequest(body: Buffer, signature: ModelSignature | undefined): V2InferenceRequest {
  const [input, ...others] = signature?.inputs ?? [];
  if (input === undefined || others.length > 0) {
    throw new BadRequestError("A raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one declared input; send an inference header");
  }
  const datatype = datatypeForDtype(input.dtype);
  if (!isV2Datatype(datatype)) throw new BadRequestError(`Input "${input.name}" is ${datatype}, which a raw binary request cannot carry`);
  const shape = rawShape(input, datatype, body.length);
  return {
    id: undefined,
    parameters: undefined,
    inputs: [{ name: input.name, datatype, shape, parameters: {}, data: decodeBinary(body, datatype, shape, `input "${input.name}"`) }],
    outputs: undefined,
    binaryOutput: true,
  };
}

function rawShape(input: TensorSpec, datatype: V2Datatype, byteLength: number): number[] {
  const label = `input "${input.name}"`;
  if (datatype === "BYTES") return [1];
  const variable = input.shape.filter((dim) => typeof dim !== "number" || dim < 0).length;
  if (variable > 1) throw new BadRequestError(`${label} has ${variable} variable dimensions; a raw binary request allows at most one: send an inference header`);
  const itemSize = storageConstructors[dtypeForDatatype(datatype) as NumericDType].BYTES_PER_ELEMENT;
  const fixed = input.shape.reduce<number>((product, dim) => (typeof dim === "number" && dim >= 0 ? product * dim : product), 1);
  const rowBytes = fixed * itemSize;
  if (rowBytes === 0 || byteLength % rowBytes !== 0 || (variable === 0 && byteLength !== rowBytes)) {
    throw new BadRequestError(`${label}: a raw body of ${byteLength} bytes does not fill shape [${input.shape.join(", ")}] of ${datatype}`);
  }
  return input.shape.map((dim) => (typeof dim === "number" && dim >= 0 ? dim : byteLength / rowBytes));
}

/** The binary part after the JSON header, handed out to inputs in order. */
class BinarySection {
  readonly #bytes: Buffer;
  #offset = 0;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  take(size: number, label: string): Buffer {
    if (this.#offset + size > this.#bytes.length) {
      throw new BadRequestError(`${label}: binary_data_size ${size} runs past the end of the body (${this.#bytes.length - this.#offset} bytes left)`);
    }
    const bytes = this.#bytes.subarray(this.#offset, this.#offset + size);
    this.#offset += size;
    return bytes;
  }

  checkConsumed(): void {
    if (this.#offset === this.#bytes.length) return;
    throw new BadRequestError(
      `${this.#bytes.length} bytes follow the inference header, but the inputs' binary_data_size add up to ${this.#offset}; check Inference-Header-Content-Length`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
