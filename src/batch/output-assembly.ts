import { recordFramingOf } from "./record-check.js";
import { decodeRecordIO } from "./recordio.js";
import type { RecordProcessing } from "./data-processing.js";
import type { AssembleWith } from "./job.js";
import type { MiniBatch } from "./mini-batch.js";

/** An answer that does not hold one output record per input record, so outputs cannot be joined to inputs. */
export class OutputRecordCountError extends Error {
  override name = "OutputRecordCountError";
}

/**
 * A container's answer to one mini-batch.
 *
 * @example
 * ```ts
 * const answer: BatchAnswer = { body: Buffer.from("0.9\n0.1\n"), contentType: "text/csv" };
 * ```
 */
export interface BatchAnswer {
  readonly body: Buffer;
  readonly contentType: string | undefined;
}

/**
 * What an answered mini-batch adds to its output file (docs/batch.md): the answer as it is
 * (`AssembleWith: Line` ends it with a newline when it does not end with one already), or, when
 * the job joins or filters outputs, one line per input record: the answer cut into as many
 * records as the batch sent (lines, or RecordIO records), each joined and filtered.
 *
 * @throws OutputRecordCountError when a join or filter needs records the answer does not have.
 * @example
 * ```ts
 * assembleOutput({ body: Buffer.from("0.9"), contentType: "text/csv" }, batch, { assembleWith: "Line", processing });
 * // "0.9\n"
 * ```
 */
export function assembleOutput(answer: BatchAnswer, batch: MiniBatch, options: { readonly assembleWith: AssembleWith; readonly processing: RecordProcessing }): Buffer {
  const line = options.assembleWith === "Line";
  if (!options.processing.processesOutput) {
    const { body } = answer;
    return line && body[body.length - 1] !== 10 ? Buffer.concat([body, Buffer.from("\n")]) : body;
  }
  const outputs = splitAnswer(answer, batch.records);
  let text = "";
  for (let index = 0; index < outputs.length; index++) {
    text += options.processing.joinOutput(batch.inputs[index] as Buffer, outputs[index] as Buffer);
    if (line) text += "\n";
  }
  return Buffer.from(text);
}

/**
 * The output records of an answer: all of it for a single record; otherwise its non-blank lines
 * (or its RecordIO records, for `application/x-recordio`), which must be as many as `expected`.
 *
 * @throws OutputRecordCountError on another count.
 * @example
 * ```ts
 * splitAnswer({ body: Buffer.from("a\nb\n"), contentType: "text/csv" }, 2); // [<a>, <b>]
 * ```
 */
export function splitAnswer(answer: BatchAnswer, expected: number): Buffer[] {
  const { body } = answer;
  const records = expected === 1 ? [withoutLineEnd(body)] : recordFramingOf(answer.contentType) === "recordio" ? decodeRecordIO(body).map((record) => record.data) : lines(body);
  if (records.length !== expected) {
    throw new OutputRecordCountError(
      `The answer holds ${records.length} output record${records.length === 1 ? "" : "s"} for ${expected} input records, so outputs cannot be joined or filtered record by record; ` +
        "the container must answer one record per line (or per RecordIO record), in order",
    );
  }
  return records;
}

function lines(body: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(10, start);
    if (end === -1) end = body.length;
    const line = body.subarray(start, end > start && body[end - 1] === 13 ? end - 1 : end);
    if (line.toString("latin1").trim() !== "") records.push(line);
    start = end + 1;
  }
  return records;
}

function withoutLineEnd(body: Buffer): Buffer {
  let end = body.length;
  if (body[end - 1] === 10) end--;
  if (body[end - 1] === 13) end--;
  return body.subarray(0, end);
}
