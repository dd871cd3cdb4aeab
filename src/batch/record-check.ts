import { catalogued } from "../error-codes.js";
import { InferenceError } from "../errors.js";
import { parseMediaType } from "../codecs/media-type.js";
import { isStream } from "../pipeline/inference-pipeline.js";
import type { Invoke } from "../protocols/sagemaker/invocations.js";
import { countRecordIO, isRecordIOFramed, RecordIOError } from "./recordio.js";

/** How a media type frames its records: one per line, or RecordIO. */
export type RecordFraming = "lines" | "recordio";

const framings: ReadonlyMap<string, RecordFraming> = new Map([
  ["text/csv", "lines"],
  ["application/jsonlines", "lines"],
  ["application/x-jsonlines", "lines"],
  ["application/jsonl", "lines"],
  ["application/x-recordio", "recordio"],
]);

/**
 * How records are framed in bodies of `mediaType`, or `undefined` for a type whose records
 * cannot be counted without decoding it (JSON, .npy, raw bytes) or a malformed header.
 *
 * @example
 * ```ts
 * recordFramingOf("text/csv; charset=utf-8"); // "lines"
 * ```
 */
export function recordFramingOf(mediaType: string | undefined): RecordFraming | undefined {
  if (mediaType === undefined) return undefined;
  try {
    return framings.get(parseMediaType(mediaType).essence);
  } catch {
    return undefined;
  }
}

/**
 * The number of records in `body`: its non-blank lines, or its RecordIO records (a body without
 * RecordIO framing is one record: SageMaker strips the framing from `SingleRecord` requests).
 *
 * @throws RecordIOError when a framed body does not parse.
 * @example
 * ```ts
 * countRecords(Buffer.from("1,2\n\n3,4\n"), "lines"); // 2
 * ```
 */
function countRecords(body: Uint8Array | string, framing: RecordFraming): number {
  if (typeof body === "string") return framing === "lines" ? countTextLines(body) : countRecords(Buffer.from(body, "utf8"), framing);
  if (framing === "recordio") return isRecordIOFramed(body) ? countRecordIO(body) : body.length === 0 ? 0 : 1;
  return countByteLines(body);
}

function countByteLines(body: Uint8Array): number {
  let count = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(10, start);
    if (end === -1) end = body.length;
    for (let index = start; index < end; index++) {
      const byte = body[index];
      if (byte !== 32 && byte !== 9 && byte !== 13) {
        count++;
        break;
      }
    }
    start = end + 1;
  }
  return count;
}

function countTextLines(body: string): number {
  let count = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf("\n", start);
    if (end === -1) end = body.length;
    for (let index = start; index < end; index++) {
      const code = body.charCodeAt(index);
      if (code !== 32 && code !== 9 && code !== 13) {
        count++;
        break;
      }
    }
    start = end + 1;
  }
  return count;
}

/**
 * `invoke` as a batch transform job needs it (`SAGEMAKER_BATCH=true`, docs/batch.md):
 * - a request without Accept (or with `*\/*`) whose body is CSV, JSON Lines or RecordIO is
 *   answered in that same type, so an answer holds one record per line (or RecordIO record) as
 *   the request did, where the JSON default would put a whole mini-batch on one line;
 * - when both request and answer are of such a type, the answer must hold as many records as the
 *   request: otherwise it is a 500 `RECORD_COUNT_MISMATCH`, since SageMaker would write outputs
 *   that no longer line up with their inputs (a streamed answer is not counted).
 * Only batch mode pays for the counting: the server wraps its invoke only then.
 *
 * @example
 * ```ts
 * const invoke = config.batch.enabled ? checkingRecordCounts(toPlane) : toPlane;
 * ```
 */
export function checkingRecordCounts(invoke: Invoke): Invoke {
  return async (model, request, signal) => {
    const inputFraming = recordFramingOf(request.contentType);
    if (inputFraming === undefined) return invoke(model, request, signal);
    const inputRecords = countInput(request.body, inputFraming);
    const accept = request.accept?.trim();
    const answered = accept === undefined || accept === "" || accept === "*/*" ? { ...request, accept: request.contentType } : request;
    const result = await invoke(model, answered, signal);
    const outputFraming = recordFramingOf(result.contentType);
    // A streamed answer would have to be held whole to be counted: it goes out as it comes.
    if (inputRecords === undefined || outputFraming === undefined || isStream(result.body)) return result;
    const outputRecords = countRecords(result.body, outputFraming);
    if (outputRecords !== inputRecords) {
      throw new InferenceError(
        `The answer holds ${outputRecords} ${result.contentType} record${outputRecords === 1 ? "" : "s"} for ${inputRecords} input record${inputRecords === 1 ? "" : "s"}; ` +
          "batch transform needs one output record per input record, in order (docs/batch.md)",
        catalogued("RECORD_COUNT_MISMATCH"),
      );
    }
    return result;
  };
}

/** The request's record count, or `undefined` when its framing is broken (the codec then answers 400). */
function countInput(body: Buffer, framing: RecordFraming): number | undefined {
  try {
    return countRecords(body, framing);
  } catch (error) {
    if (error instanceof RecordIOError) return undefined;
    throw error;
  }
}
