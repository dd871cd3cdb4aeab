import { BadRequestError } from "../errors.js";
import { isNDArray } from "../tensor/ndarray.js";
import type { Codec } from "./codec.js";
import { toJsonValue } from "./json.js";
import { findNonFiniteNumber, mayHoldNonFiniteNumber } from "./json-numbers.js";

const UTF8_BOM = "\uFEFF";

/**
 * `application/jsonlines` (also `application/x-jsonlines` and `application/jsonl`): one JSON
 * value per line, the record format of batch transform with `SplitType: Line`.
 *
 * Decoding parses every non-blank line (CRLF tolerated) and gives the array of values; a bad
 * line is a 400 naming it: `Invalid JSON Lines body: line 3: Unexpected end of JSON input`. As
 * with {@link jsonCodec}, numbers that do not fit a 64-bit float (`1e400`) are refused (`line 2
 * column 5: the number 1e400 is out of range...`).
 *
 * Encoding writes an array, a typed array or an NDArray of rank ≥ 1 as one line per item along
 * the first dimension (a row of a matrix is a nested array), any other value as one line, each
 * line ending with `\n`. Values are converted as {@link jsonCodec} converts them, without the
 * `{"predictions": ...}` wrapper.
 *
 * @example
 * ```ts
 * jsonLinesCodec.decode!(Buffer.from('{"x": 1}\n{"x": 2}\n'), { mediaType }); // [{ x: 1 }, { x: 2 }]
 * jsonLinesCodec.encode!({ dtype: "int32", shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) }, { mediaType }); // "[1,2]\n[3,4]\n"
 * ```
 */
export const jsonLinesCodec: Codec = {
  mediaTypes: ["application/jsonlines", "application/x-jsonlines", "application/jsonl"],
  decode: (body) => decodeJsonLines(body.toString("utf8")),
  encode: (value) => encodeJsonLines(value),
};

function decodeJsonLines(input: string): unknown[] {
  const text = input.startsWith(UTF8_BOM) ? input.slice(1) : input;
  const lines = text.split("\n");
  const checkNumbers = mayHoldNonFiniteNumber(text);
  const values: unknown[] = [];
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index] as string;
    const line = raw.trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new BadRequestError(`Invalid JSON Lines body: line ${index + 1}: ${(error as Error).message}`, {
        code: "INVALID_JSON",
        cause: error,
      });
    }
    const problem = checkNumbers ? findNonFiniteNumber(line) : undefined;
    if (problem !== undefined) {
      throw new BadRequestError(`Invalid JSON Lines body: line ${index + 1} column ${raw.length - raw.trimStart().length + problem.index + 1}: ${problem.message}`, { code: "INVALID_JSON" });
    }
    values.push(value);
  }
  if (values.length === 0) throw new BadRequestError("Empty request body", { code: "EMPTY_BODY" });
  return values;
}

function encodeJsonLines(value: unknown): string {
  const isSequence =
    Array.isArray(value) ||
    (isNDArray(value) && value.shape.length > 0) ||
    (ArrayBuffer.isView(value) && !Buffer.isBuffer(value) && !(value instanceof DataView));
  const converted = toJsonValue(value);
  const items = isSequence ? (converted as unknown[]) : [converted];
  let text = "";
  for (const item of items) text += `${JSON.stringify(item) ?? "null"}\n`;
  return text;
}
