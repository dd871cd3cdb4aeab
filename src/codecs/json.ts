import { BadRequestError, InferenceError, NotAcceptableError } from "../errors.js";
import { isNDArray } from "../tensor/ndarray.js";
import type { Codec } from "./codec.js";
import { encodeNumericJson } from "./json-tensor.js";
import { describePosition, findNonFiniteNumber, mayHoldNonFiniteNumber } from "./json-numbers.js";
import { checkNDArray, elementsOf, isRecord, nest, typedArrayToNDArray } from "./ndarray-convert.js";

const UTF8_BOM = "\uFEFF";

/**
 * `application/json`.
 *
 * Decoding unwraps the request conventions of SageMaker, Vertex AI and TF Serving:
 * `{"instances": [...]}` gives the instances array, `{"inputs": X}` gives X (an array or a record
 * of named inputs); other top-level keys such as `parameters` are dropped (read them in an
 * `inputFn`). A bare array, any other object or a scalar is returned as parsed. A malformed body
 * is a 400 carrying V8's diagnosis: the position where V8 gives one (`Invalid JSON body: Expected
 * ',' or ']' after array element in JSON at position 4 (line 1 column 5)`), otherwise the token and
 * the text around it (`Invalid JSON body: Unexpected token ']', "[1, 2,]" is not valid JSON`).
 * Valid JSON is refused too when a number does not fit a 64-bit float (`1e400`, which would
 * silently become Infinity: `Invalid JSON body: the number 1e400 is out of range for a 64-bit
 * float (numbers must be finite) at position 2 (line 1 column 3)`). Decoding costs time linear in
 * the body size, whatever its shape.
 *
 * Encoding answers `{"predictions": X}` where X is the prediction made JSON-ready:
 * - an NDArray becomes nested arrays of its shape (a scalar for shape `[]`); a record of
 *   NDArrays becomes a record of nested arrays; typed arrays become arrays;
 * - `bool` elements become `true`/`false`; `float32` and `float16` elements are written with the
 *   fewest digits that read back as the same value (`0.1`, not `0.10000000149011612`);
 * - `int64`/`uint64` values (bigints) become JSON numbers when they are safe integers
 *   (|n| ≤ 2^53 - 1) and decimal strings otherwise, so no digit is lost;
 * - a `Buffer` becomes `{"b64": "<base64>"}`, the TF Serving convention for binary values;
 * - NaN and ±Infinity become `null` and -0 becomes `0`, as `JSON.stringify` writes them: JSON has
 *   no such numbers;
 * - an `undefined` prediction becomes `null`.
 *
 * @example
 * ```ts
 * jsonCodec.decode!(Buffer.from('{"instances": [[1, 2]]}'), { mediaType }); // [[1, 2]]
 * jsonCodec.encode!({ dtype: "int64", shape: [2], data: new BigInt64Array([1n, 2n ** 60n]) }, { mediaType });
 * // '{"predictions":[1,"1152921504606846976"]}'
 * ```
 */
export const jsonCodec: Codec = {
  mediaTypes: ["application/json"],
  decode: (body) => unwrapRequest(parseJsonBody(body)),
  encode: (value) => encodeNumericJson(value) ?? JSON.stringify({ predictions: toJsonValue(value) ?? null }),
};

function parseJsonBody(body: Buffer): unknown {
  let text = body.toString("utf8");
  if (text.startsWith(UTF8_BOM)) text = text.slice(1);
  if (text.trim() === "") throw new BadRequestError("Empty request body", { code: "EMPTY_BODY" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`Invalid JSON body: ${(error as Error).message}`, { code: "INVALID_JSON", cause: error });
  }
  const problem = mayHoldNonFiniteNumber(text) ? findNonFiniteNumber(text) : undefined;
  if (problem !== undefined) {
    throw new BadRequestError(`Invalid JSON body: ${problem.message} at ${describePosition(text, problem.index)}`, { code: "INVALID_JSON" });
  }
  return parsed;
}

function unwrapRequest(parsed: unknown): unknown {
  if (!isRecord(parsed)) return parsed;
  const hasInstances = Object.hasOwn(parsed, "instances");
  const hasInputs = Object.hasOwn(parsed, "inputs");
  if (hasInstances && hasInputs) {
    throw new BadRequestError('JSON body has both "instances" and "inputs"; send one of them');
  }
  if (hasInstances) {
    if (!Array.isArray(parsed.instances)) throw new BadRequestError('"instances" must be an array');
    return parsed.instances;
  }
  return hasInputs ? parsed.inputs : parsed;
}

/**
 * Makes a prediction JSON-ready as {@link jsonCodec} describes: NDArrays and typed arrays become
 * nested arrays, bigints numbers or strings, Buffers `{"b64": ...}`; arrays and plain objects are
 * converted deeply; anything else is left to `JSON.stringify`.
 *
 * @example
 * ```ts
 * toJsonValue({ scores: new Float32Array([0.25, 0.75]) }); // { scores: [0.25, 0.75] }
 * ```
 */
export function toJsonValue(value: unknown): unknown {
  return convert(value, new Set());
}

function convert(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === "bigint") return bigintToJson(value);
  if (typeof value !== "object" || value === null) return value;
  if (isNDArray(value)) {
    checkNDArray(value);
    const elements = elementsOf(value).map((element) => (typeof element === "bigint" ? bigintToJson(element) : element));
    return nest(elements, value.shape);
  }
  if (Buffer.isBuffer(value)) return { b64: value.toString("base64") };
  if (ArrayBuffer.isView(value)) {
    const array = typedArrayToNDArray(value);
    if (array === undefined) throw new NotAcceptableError("application/json cannot hold a DataView; return a typed array");
    return convert(array, ancestors);
  }
  if (ancestors.has(value)) {
    throw new InferenceError("The prediction contains a circular reference and cannot be encoded as JSON", {
      code: "INVALID_PREDICTION",
    });
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item: unknown) => convert(item, ancestors));
    if (isRecord(value)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, convert(item, ancestors)]));
    }
    return value;
  } finally {
    ancestors.delete(value);
  }
}

function bigintToJson(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}
