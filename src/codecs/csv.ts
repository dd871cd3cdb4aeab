import { BadRequestError, NotAcceptableError } from "../errors.js";
import { isNDArray } from "../tensor/ndarray.js";
import type { Codec } from "./codec.js";
import { checkNDArray, describeValue, elementsOf, flattenPrediction, singleOutput, typedArrayToNDArray } from "./ndarray-convert.js";

const UTF8_BOM = "\uFEFF";
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** How NumPy, pandas and C's printf spell the values text/csv refuses: named in the error. */
const NON_FINITE_SPELLINGS = new Set(["nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]);
const MAX_QUOTED_CELL = 40;

/**
 * `text/csv`, numbers only, like SageMaker's scikit-learn and XGBoost containers.
 *
 * Decoding gives one `number[]` per line. Cells are trimmed; CRLF line ends, a trailing newline,
 * blank lines and a UTF-8 byte order mark are tolerated. Numbers must be finite: `nan`, `inf`,
 * `-inf` (any case, also `Infinity`) and numbers too large for a 64-bit float (`1e400`) are a 400,
 * since a model fed NaN answers NaN (`null` in JSON) rather than an error; NaN and infinities
 * travel in `application/x-npy`. A header row is not supported. Errors name the row (the 1-based
 * line number, blank lines counted) and column: `text/csv row 3, column 2: "abc" is not a
 * number`; rows of different lengths are rejected. Decoding costs time linear in the body size.
 *
 * Encoding takes one array (an NDArray, typed array or nested arrays, or a record holding exactly
 * one) and writes a 2-D one as one line per row, a 1-D one as one value per line (one prediction
 * per line, as SageMaker's scikit-learn container does) and a scalar as one line; every line ends
 * with `\n`. Numbers are printed with the fewest digits that read back exactly (`float32` 0.1 as
 * `0.1`), NaN and ±Infinity as `nan`, `inf` and `-inf` (NumPy's spelling), booleans as `1` and `0`,
 * bigints in full; strings are quoted per RFC 4180 when they hold a comma, quote or line break.
 * Several outputs, rank > 2 or ragged rows are a 406.
 *
 * @example
 * ```ts
 * csvCodec.decode!(Buffer.from("5.1,3.5\r\n4.9,3.0\r\n"), { mediaType }); // [[5.1, 3.5], [4.9, 3]]
 * csvCodec.encode!({ dtype: "float32", shape: [2], data: new Float32Array([0.1, 0.9]) }, { mediaType }); // "0.1\n0.9\n"
 * ```
 */
export const csvCodec: Codec = {
  mediaTypes: ["text/csv"],
  decode: (body) => decodeCsv(body.toString("utf8")),
  encode: (value) => encodeCsv(value),
};

function decodeCsv(input: string): number[][] {
  const text = input.startsWith(UTF8_BOM) ? input.slice(1) : input;
  const lines = text.split("\n");
  const rows: number[][] = [];
  let firstRow = 0;
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).trim();
    if (line === "") continue;
    const rowNumber = index + 1;
    const cells = line.split(",");
    if (rows.length === 0) {
      firstRow = rowNumber;
    } else if (cells.length !== (rows[0] as number[]).length) {
      throw new BadRequestError(
        `text/csv row ${rowNumber} has ${cells.length} values but row ${firstRow} has ${(rows[0] as number[]).length}; all rows must have the same number of values`,
      );
    }
    const row = new Array<number>(cells.length);
    for (let column = 0; column < cells.length; column++) {
      const cell = (cells[column] as string).trim();
      const value = DECIMAL.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(value)) throw notAFiniteNumber(rowNumber, column + 1, cell, rows.length === 0);
      row[column] = value;
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new BadRequestError("Empty request body", { code: "EMPTY_BODY" });
  return rows;
}

function notAFiniteNumber(row: number, column: number, cell: string, isFirstRow: boolean): BadRequestError {
  const where = `text/csv row ${row}, column ${column}`;
  if (cell === "") return new BadRequestError(`${where} is empty; every cell must hold a number`);
  const shown = JSON.stringify(cell.length > MAX_QUOTED_CELL ? `${cell.slice(0, MAX_QUOTED_CELL)}...` : cell);
  if (NON_FINITE_SPELLINGS.has(cell.toLowerCase())) {
    return new BadRequestError(`${where}: ${shown} is not a finite number; text/csv takes finite numbers only (send NaN and infinities as application/x-npy)`);
  }
  if (DECIMAL.test(cell)) return new BadRequestError(`${where}: ${shown} is out of range for a 64-bit float`);
  const hint = isFirstRow ? " (a header row is not supported: remove it and send numbers only)" : "";
  return new BadRequestError(`${where}: ${shown} is not a number${hint}`);
}

function encodeCsv(value: unknown): string {
  const { shape, elements } = tabulate(singleOutput(value, "text/csv can hold one 1-D or 2-D tensor"));
  if (shape.length > 2) {
    throw new NotAcceptableError(
      `text/csv can hold one 1-D or 2-D tensor; the prediction has shape [${shape.join(", ")}]`,
    );
  }
  const cells = elements.map(formatCell);
  const width = shape.length === 2 ? (shape[1] as number) : 1;
  const rowCount = shape.length === 0 ? 1 : (shape[0] as number);
  let text = "";
  for (let row = 0; row < rowCount; row++) text += `${cells.slice(row * width, (row + 1) * width).join(",")}\n`;
  return text;
}

function tabulate(prediction: unknown): { shape: readonly number[]; elements: readonly unknown[] } {
  if (isNDArray(prediction)) {
    checkNDArray(prediction);
    return { shape: prediction.shape, elements: elementsOf(prediction) };
  }
  if (Buffer.isBuffer(prediction)) {
    throw new NotAcceptableError("text/csv cannot hold binary data (a Buffer); use application/octet-stream");
  }
  if (ArrayBuffer.isView(prediction)) {
    const array = typedArrayToNDArray(prediction);
    if (array !== undefined) return tabulate(array);
  }
  return flattenPrediction(prediction, "text/csv");
}

function formatCell(value: unknown): string {
  switch (typeof value) {
    case "number":
      if (Number.isNaN(value)) return "nan";
      if (value === Infinity) return "inf";
      if (value === -Infinity) return "-inf";
      return String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "1" : "0";
    case "string":
      return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
    default:
      throw new NotAcceptableError(`text/csv cells must be numbers, strings or booleans; the prediction holds ${describeValue(value)}`);
  }
}
