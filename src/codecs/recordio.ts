import { decodeRecordIO, encodeRecordIO, isRecordIOFramed, RecordIOError } from "../batch/recordio.js";
import { BadRequestError, NotAcceptableError } from "../errors.js";
import { isNDArray } from "../tensor/ndarray.js";
import type { Codec } from "./codec.js";
import { toJsonValue } from "./json.js";
import { singleOutput } from "./ndarray-convert.js";

/**
 * `application/x-recordio`: MXNet RecordIO, the binary record framing of batch transform's
 * `SplitType: RecordIO` (docs/batch.md).
 *
 * Decoding gives one `Buffer` per record, its data without the framing: read them in an
 * `inputFn` (the records hold whatever the data set's writer put there). A body that does not
 * start with the RecordIO magic number is one bare record: SageMaker strips the framing from
 * `SingleRecord` requests. A framed body that does not parse is a 400.
 *
 * Encoding writes one record per item of an array (or per row of an NDArray of rank ≥ 1): a
 * `Uint8Array`/`Buffer` as its bytes, a string as UTF-8, anything else as JSON text (converted
 * as {@link jsonCodec} converts values). A record holding exactly one output is unwrapped; a
 * value that is not a sequence is a 406.
 *
 * @example
 * ```ts
 * recordIOCodec.decode!(body, { mediaType }); // [Buffer, Buffer, ...]
 * recordIOCodec.encode!([Buffer.from("a"), "b", { label: 1 }], { mediaType }); // three framed records
 * ```
 */
export const recordIOCodec: Codec = {
  mediaTypes: ["application/x-recordio"],
  decode: (body) => decodeRecords(body),
  encode: (value) => encodeRecords(singleOutput(value, "application/x-recordio holds one sequence of records")),
};

function decodeRecords(body: Buffer): Buffer[] {
  if (body.length === 0) throw new BadRequestError("Empty request body", { code: "EMPTY_BODY" });
  if (!isRecordIOFramed(body)) return [body];
  try {
    return decodeRecordIO(body).map((record) => record.data);
  } catch (error) {
    if (!(error instanceof RecordIOError)) throw error;
    throw new BadRequestError(`Invalid application/x-recordio body: ${error.message}`, { code: "INVALID_RECORDIO", cause: error });
  }
}

function encodeRecords(prediction: unknown): Buffer {
  const items = Array.isArray(prediction) ? prediction : isNDArray(prediction) && prediction.shape.length > 0 ? (toJsonValue(prediction) as unknown[]) : undefined;
  if (items === undefined) {
    throw new NotAcceptableError("application/x-recordio holds a sequence of records: return an array (one record per item) or an NDArray (one record per row)");
  }
  return encodeRecordIO(items.map(recordBytes));
}

function recordBytes(item: unknown): Uint8Array {
  if (item instanceof Uint8Array) return item;
  if (typeof item === "string") return Buffer.from(item, "utf8");
  return Buffer.from(JSON.stringify(toJsonValue(item) ?? null), "utf8");
}
