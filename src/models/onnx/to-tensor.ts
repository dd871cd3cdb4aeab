import { Tensor, type InferenceSession } from "onnxruntime-node";
import { BadRequestError, InferenceError } from "../../errors.js";
import { castElements, castNDArray, isDType } from "../../tensor/dtype-cast.js";
import { flattenNested, leadingShape } from "../../tensor/nested-array.js";
import { elementCount, isNDArray, storageConstructors, type DType, type DTypeStorage, type NDArray } from "../../tensor/ndarray.js";

/** Ranks above this are not printed dim by dim in error messages. */
const MAX_PRINTED_RANK = 16;

/**
 * Wraps an {@link NDArray} in an onnxruntime `Tensor` without copying its data.
 *
 * @example
 * ```ts
 * const tensor = toTensor({ dtype: "float32", shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) });
 * await session.run({ features: tensor });
 * ```
 */
export function toTensor(array: NDArray): Tensor {
  const tensor = new Tensor(array.dtype, array.data, array.shape);
  if (array.dtype === "float16") {
    // Where Float16Array exists (Node 24), onnxruntime-common rewraps Uint16Array data as a
    // Float16Array that the 1.30 binding reads as 0 bytes ("not enough space: expected 4, got 0",
    // microsoft/onnxruntime#32323). The binding takes the Uint16Array itself.
    Object.defineProperty(tensor, "data", { value: array.data });
  }
  return tensor;
}

/**
 * Views an onnxruntime output `Tensor` as an {@link NDArray}, sharing its data (no copy).
 * `float16` data comes back as the `Uint16Array` of its bits even where onnxruntime hands out a
 * `Float16Array`.
 *
 * @example
 * ```ts
 * const outputs = await session.run(feeds);
 * const probabilities = fromTensor(outputs["softmax"] as Tensor); // { dtype: "float32", shape: [1, 2], data: Float32Array }
 * ```
 */
export function fromTensor(tensor: Tensor): NDArray {
  const dtype = tensor.type;
  if (!isDType(dtype)) throw new InferenceError(`onnxruntime returned a ${dtype} tensor, which an NDArray cannot hold`);
  const data: ArrayBufferView | string[] = tensor.data;
  const storage =
    dtype === "float16" && !(data instanceof Uint16Array)
      ? new Uint16Array((data as ArrayBufferView).buffer, (data as ArrayBufferView).byteOffset, tensor.size)
      : data;
  return { dtype, shape: tensor.dims, data: storage } as NDArray;
}

/**
 * Maps a decoded request onto a model's inputs and returns the feeds for `session.run`.
 *
 * - A single-input model takes an {@link NDArray}, a nested array (`[[5.1, 3.5, 1.4, 0.2]]`, as
 *   JSON or CSV decode to) or a scalar; any model takes an object keyed by input name.
 * - A value whose rank is one less than the input's and whose dims match the input's non-batch
 *   dims is one example: it gets a batch dimension of 1 (`[5.1, 3.5, 1.4, 0.2]` → shape [1, 4]).
 * - Shapes are checked against the fixed dims of each input, and inputs that share a named
 *   (symbolic) dim must agree on its size, before anything runs.
 * - Values are converted to each input's dtype when nothing is lost (float64 → float32,
 *   integral numbers → int64...).
 *
 * Every problem with the request is a {@link BadRequestError} saying which input and what is wrong.
 *
 * @example
 * ```ts
 * const feeds = toFeeds(session.inputMetadata, { a: [[1, 2, 3]], b: [[4, 5, 6]] });
 * const outputs = await session.run(feeds);
 * ```
 */
export function toFeeds(inputs: readonly InferenceSession.ValueMetadata[], input: unknown): Record<string, Tensor> {
  const names = inputs.map((metadata) => metadata.name);
  const expected = `the model's inputs are ${names.join(", ")}`;
  let values: [InferenceSession.ValueMetadata, unknown][];
  if (isSingleValue(input)) {
    const [only] = inputs;
    if (only === undefined || inputs.length > 1) {
      throw new BadRequestError(
        `The model has ${inputs.length} inputs (${names.join(", ")}): send an object with one entry per input name`,
      );
    }
    values = [[only, input]];
  } else if (isRecord(input)) {
    const unknown = Object.keys(input).find((key) => !names.includes(key));
    if (unknown !== undefined) throw new BadRequestError(`Unknown input "${unknown}": ${expected}`);
    values = inputs.map((metadata) => {
      if (!Object.hasOwn(input, metadata.name)) throw new BadRequestError(`Missing input "${metadata.name}": ${expected}`);
      return [metadata, input[metadata.name]];
    });
  } else if (ArrayBuffer.isView(input)) {
    throw bareTypedArray(input, "the model");
  } else {
    throw new BadRequestError(
      `Unsupported input: expected an array of numbers, an NDArray or an object keyed by input name (${names.join(", ")})`,
    );
  }
  const arrays = values.map(([metadata, value]) => toInputArray(metadata, value));
  checkSharedDims(arrays);
  return Object.fromEntries(arrays.map(({ metadata, array }) => [metadata.name, toTensor(array)]));
}

type TensorMetadata = InferenceSession.TensorValueMetadata;

interface InputArray {
  readonly metadata: TensorMetadata;
  readonly array: NDArray;
}

function toInputArray(metadata: InferenceSession.ValueMetadata, value: unknown): InputArray {
  const label = `input "${metadata.name}"`;
  if (!metadata.isTensor) {
    throw new InferenceError(`${label} is not a tensor, which the default predictFn cannot feed: write a predictFn`);
  }
  const dtype = metadata.type;
  if (!isDType(dtype)) {
    throw new InferenceError(`${label} has type ${dtype}, which the default predictFn cannot feed: write a predictFn`);
  }
  if (isNDArray(value)) {
    checkStorage(value, label);
    const shape = fitShape(metadata, value.shape, label);
    return { metadata, array: { dtype, shape, data: castNDArray(value, dtype, label) } };
  }
  if (ArrayBuffer.isView(value)) throw bareTypedArray(value, label);
  const leading = leadingShape(value);
  const rank = metadata.shape.length;
  // Reject a wrong rank before walking the array, so hostile nesting cannot recurse deeply.
  if (leading.length !== rank && leading.length !== rank - 1) throw shapeMismatch(metadata, leading, label);
  const leaves = flattenNested(value, leading, label);
  const shape = fitShape(metadata, leading, label);
  return { metadata, array: { dtype, shape, data: castElements(leaves, dtype, leading, label) } };
}

function fitShape(metadata: TensorMetadata, shape: readonly number[], label: string): readonly number[] {
  const expected = metadata.shape;
  const fits = (dims: readonly number[], offset: number): boolean =>
    dims.every((dim, axis) => {
      const want = expected[axis + offset];
      return typeof want === "string" || want === dim;
    });
  if (shape.length === expected.length && fits(shape, 0)) return shape;
  const batch = expected[0];
  if (shape.length === expected.length - 1 && (typeof batch === "string" || batch === 1) && fits(shape, 1)) {
    return [1, ...shape];
  }
  throw shapeMismatch(metadata, shape, label);
}

function shapeMismatch(metadata: TensorMetadata, shape: readonly number[], label: string): BadRequestError {
  const expected = metadata.shape.map((dim) => (dim === "" ? "?" : String(dim))).join(", ");
  const got = shape.length > MAX_PRINTED_RANK ? `an array of rank ${shape.length}` : `[${shape.join(", ")}]`;
  return new BadRequestError(`${label} expects shape [${expected}], got ${got}`);
}

/** ONNX gives a symbolic dim one size across the graph: inputs naming the same dim must agree. */
function checkSharedDims(arrays: readonly InputArray[]): void {
  const seen = new Map<string, { input: string; size: number }>();
  for (const { metadata, array } of arrays) {
    metadata.shape.forEach((dim, axis) => {
      const size = array.shape[axis];
      if (typeof dim !== "string" || dim === "" || size === undefined) return;
      const first = seen.get(dim);
      if (first === undefined) seen.set(dim, { input: metadata.name, size });
      else if (first.size !== size) {
        throw new BadRequestError(
          `Inputs "${first.input}" and "${metadata.name}" must agree on dimension "${dim}": got ${first.size} and ${size}`,
        );
      }
    });
  }
}

/** An NDArray's data must be what its dtype says, with one element per position of its shape. */
function checkStorage(array: NDArray, label: string): void {
  const { dtype, data, shape } = array;
  if (!isDType(dtype)) throw new InferenceError(`${label} is an NDArray of unknown dtype "${String(dtype)}"`);
  const valid = dtype === "string" ? Array.isArray(data) : data instanceof storageConstructors[dtype];
  if (!valid) {
    throw new InferenceError(
      `${label} is a ${dtype} NDArray whose data is a ${describeStorage(data)}, not a ${storageName(dtype)}`,
    );
  }
  if (data.length !== elementCount(shape)) {
    const expected = elementCount(shape);
    throw new InferenceError(
      `${label} is an NDArray of shape [${shape.join(", ")}] with ${data.length} values instead of ${expected}`,
    );
  }
}

function storageName(dtype: DType): string {
  return dtype === "string" ? "string array" : storageConstructors[dtype].name;
}

function describeStorage(data: DTypeStorage[DType]): string {
  return Array.isArray(data) ? "plain array" : (data as object).constructor.name;
}

/**
 * Raw bytes are what the octet-stream codec decodes a body to: the client sent a format that
 * carries no shape (400). Other typed arrays can only come from server code (500).
 */
function bareTypedArray(view: ArrayBufferView, target: string): InferenceError {
  if (view instanceof Uint8Array) {
    return new BadRequestError(
      `Raw bytes cannot be fed to ${target}: send application/json, text/csv or application/x-npy, which carry a shape`,
    );
  }
  return new InferenceError(`Cannot feed a bare ${view.constructor.name} to ${target}: wrap it in an NDArray ({ dtype, shape, data })`);
}

function isSingleValue(input: unknown): boolean {
  return isNDArray(input) || Array.isArray(input) || ["number", "bigint", "boolean", "string"].includes(typeof input);
}

function isRecord(input: unknown): input is Readonly<Record<string, unknown>> {
  return typeof input === "object" && input !== null && !ArrayBuffer.isView(input);
}
