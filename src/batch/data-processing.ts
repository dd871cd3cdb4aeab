import { formatCsvRow, parseCsvRow } from "./csv-row.js";
import { recordFormatOf, type RecordFormat, type TransformJob } from "./job.js";

/** A record that the filters or the join cannot read: not JSON, a malformed CSV row, a missing attribute. */
export class RecordProcessingError extends Error {
  override name = "RecordProcessingError";
}

/**
 * `DataProcessing` applied to records (docs/batch.md, "Associate prediction results with input
 * records"): `InputFilter` picks what is sent of each input record; `JoinSource: Input` joins each
 * output record to its whole input record (a CSV row gets the output's cells appended; a JSON
 * object gets a `SageMakerOutput` attribute, anything else is wrapped as
 * `{"SageMakerInput", "SageMakerOutput"}`); `OutputFilter` then picks what is written.
 *
 * @example
 * ```ts
 * const processing = createRecordProcessing(job);
 * const sent = processing.filterInput(Buffer.from("id-7,5.1,3.5,1.4,0.2")); // "5.1,3.5,1.4,0.2" with InputFilter $[1:]
 * processing.joinOutput(Buffer.from("id-7,5.1,3.5,1.4,0.2"), Buffer.from("0.98")); // "id-7,0.98" with JoinSource Input and OutputFilter $[0,-1]
 * ```
 */
export interface RecordProcessing {
  /** True when the input filter changes records (it is not `$`). */
  readonly filtersInput: boolean;
  /** True when answers are cut into output records: a join or an output filter. */
  readonly processesOutput: boolean;
  /** What is sent for an input record. */
  filterInput(record: Buffer): Buffer;
  /** What is written for an output record and the input record it answers. */
  joinOutput(input: Buffer, output: Buffer): string;
}

/**
 * The processing of `job`'s records. The job was checked: filters and joins come only with CSV
 * or JSON content types (see {@link resolveTransformJob}).
 *
 * @example
 * ```ts
 * createRecordProcessing(job).processesOutput; // false for the defaults ($, None, $)
 * ```
 */
export function createRecordProcessing(job: TransformJob): RecordProcessing {
  const format: RecordFormat = recordFormatOf(job.contentType) ?? "json";
  const { inputFilter, outputFilter, joinSource } = job.dataProcessing;
  const read = format === "csv" ? readCsv : readJson;
  const write = format === "csv" ? writeCsv : JSON.stringify;
  return {
    filtersInput: !inputFilter.isRoot,
    processesOutput: joinSource === "Input" || !outputFilter.isRoot,
    filterInput: (record) => Buffer.from(write(inputFilter.select(read(record, "input")))),
    joinOutput: (input, output) => {
      const answer = read(output, "output");
      const joined = joinSource === "Input" ? join(format, read(input, "input"), answer) : answer;
      return write(outputFilter.select(joined));
    },
  };
}

function join(format: RecordFormat, input: unknown, output: unknown): unknown {
  if (format === "csv") return [...(input as unknown[]), ...(output as unknown[])];
  if (typeof input === "object" && input !== null && !Array.isArray(input)) return { ...input, SageMakerOutput: output };
  return { SageMakerInput: input, SageMakerOutput: output };
}

function readCsv(record: Buffer, side: string): string[] {
  try {
    return parseCsvRow(withoutLineEnd(record.toString("utf8")));
  } catch (error) {
    throw new RecordProcessingError(`The ${side} record is not a valid CSV row: ${(error as Error).message}`);
  }
}

function readJson(record: Buffer, side: string): unknown {
  const text = record.toString("utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
    throw new RecordProcessingError(`The ${side} record is not JSON (${(error as Error).message}): ${JSON.stringify(shown)}`);
  }
}

function writeCsv(value: unknown): string {
  return formatCsvRow(Array.isArray(value) ? value : [value]);
}

function withoutLineEnd(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}
