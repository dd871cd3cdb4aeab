import { ConfigurationError } from "../errors.js";
import { parseMediaType } from "../codecs/media-type.js";
import { maxPayloadInMbLimit } from "../config/batch-settings.js";
import { parseJsonPath, type JsonPath } from "./jsonpath.js";

/** `TransformInput.SplitType`: how input files are cut into records. */
export type SplitType = "None" | "Line" | "RecordIO";
/** `BatchStrategy`: one record per request, or as many as fit in `MaxPayloadInMB`. */
export type BatchStrategy = "SingleRecord" | "MultiRecord";
/** `TransformOutput.AssembleWith`: how answers are joined into an output file. */
export type AssembleWith = "None" | "Line";
/** `TransformInput.CompressionType`. */
export type CompressionType = "None" | "Gzip";
/** `DataProcessing.JoinSource`. */
export type JoinSource = "None" | "Input";

/**
 * Where a job reads its input, as `TransformS3DataSource` names it: every object under an S3
 * prefix (or every file under a local folder, or one local file), or the objects a manifest lists.
 *
 * @example
 * ```ts
 * const input: TransformInputLocation = { dataType: "S3Prefix", uri: "s3://bucket/input/" };
 * ```
 */
export interface TransformInputLocation {
  readonly dataType: "S3Prefix" | "ManifestFile";
  /** `s3://bucket/prefix`, a local folder or file, or (for a manifest) the manifest's S3 URI or local path. */
  readonly uri: string;
}

/**
 * A transform job, as `CreateTransformJob` describes one (docs/batch.md): parameters left
 * `undefined` are asked of the container (`GET /execution-parameters`), then take SageMaker's
 * defaults.
 *
 * @example
 * ```ts
 * const job: TransformJob = resolveTransformJob({
 *   input: { dataType: "S3Prefix", uri: "data/" },
 *   outputPath: "out/",
 *   contentType: "text/csv",
 *   splitType: "Line",
 * });
 * ```
 */
export interface TransformJob {
  readonly input: TransformInputLocation;
  /** `S3OutputPath`: an `s3://` prefix or a local folder; one `<input>.out` per input. */
  readonly outputPath: string;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly splitType: SplitType;
  readonly compressionType: CompressionType;
  readonly batchStrategy: BatchStrategy | undefined;
  /** 0 to 100; 0 sends each file (or all records of a file) whatever its size. */
  readonly maxPayloadInMb: number | undefined;
  readonly maxConcurrentTransforms: number | undefined;
  readonly assembleWith: AssembleWith;
  readonly dataProcessing: DataProcessing;
  /** `ModelClientConfig.InvocationsTimeoutInSeconds`, in ms. */
  readonly invocationTimeoutMs: number;
  /** `ModelClientConfig.InvocationsMaxRetries`: 0 to 3. */
  readonly maxRetries: number;
}

/**
 * `DataProcessing`: the JSONPath filters (parsed) and the join.
 *
 * @example
 * ```ts
 * const processing: DataProcessing = { inputFilter: parseJsonPath("$[1:]"), outputFilter: parseJsonPath("$[0,-1]"), joinSource: "Input" };
 * ```
 */
export interface DataProcessing {
  readonly inputFilter: JsonPath;
  readonly outputFilter: JsonPath;
  readonly joinSource: JoinSource;
}

/**
 * A job as given: everything but the input and output may be left out.
 *
 * @example
 * ```ts
 * const given: TransformJobRequest = { input: { dataType: "S3Prefix", uri: "s3://b/in/" }, outputPath: "s3://b/out/" };
 * ```
 */
export interface TransformJobRequest {
  readonly input: TransformInputLocation;
  readonly outputPath: string;
  readonly contentType?: string | undefined;
  readonly accept?: string | undefined;
  readonly splitType?: SplitType | undefined;
  readonly compressionType?: CompressionType | undefined;
  readonly batchStrategy?: BatchStrategy | undefined;
  readonly maxPayloadInMb?: number | undefined;
  readonly maxConcurrentTransforms?: number | undefined;
  readonly assembleWith?: AssembleWith | undefined;
  readonly inputFilter?: string | undefined;
  readonly outputFilter?: string | undefined;
  readonly joinSource?: JoinSource | undefined;
  readonly invocationTimeoutMs?: number | undefined;
  readonly maxRetries?: number | undefined;
}

/** `ModelClientConfig` defaults: 600 s per invocation, 3 retries (docs/batch.md). */
const defaultInvocationTimeoutMs = 600_000;
const defaultMaxRetries = 3;
const maxInvocationTimeoutMs = 3_600_000;

/** The record formats the data processing filters read (docs/batch.md): CSV rows, or JSON values. */
export type RecordFormat = "csv" | "json";

const recordFormats: ReadonlyMap<string, RecordFormat> = new Map([
  ["text/csv", "csv"],
  ["application/json", "json"],
  ["application/jsonlines", "json"],
  ["application/x-jsonlines", "json"],
  ["application/jsonl", "json"],
]);

/**
 * The data processing record format of `mediaType`, or `undefined` when filters cannot read it.
 *
 * @example
 * ```ts
 * recordFormatOf("application/jsonlines"); // "json"
 * ```
 */
export function recordFormatOf(mediaType: string | undefined): RecordFormat | undefined {
  if (mediaType === undefined) return undefined;
  try {
    return recordFormats.get(parseMediaType(mediaType).essence);
  } catch {
    return undefined;
  }
}

/**
 * Checks a job as SageMaker checks `CreateTransformJob` and fills the defaults that do not
 * depend on the container. Every problem goes into one {@link ConfigurationError}.
 *
 * @example
 * ```ts
 * resolveTransformJob({ input: { dataType: "S3Prefix", uri: "in/" }, outputPath: "out/", splitType: "Line", joinSource: "Input" });
 * // throws: JoinSource Input needs ContentType text/csv or a JSON type, and Accept of the same kind
 * ```
 */
export function resolveTransformJob(request: TransformJobRequest): TransformJob {
  const problems: string[] = [];
  const parsePath = (name: string, text: string | undefined): JsonPath => {
    try {
      return parseJsonPath(text ?? "$");
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return parseJsonPath("$");
    }
  };
  const job: TransformJob = {
    input: request.input,
    outputPath: request.outputPath,
    contentType: request.contentType,
    accept: request.accept,
    splitType: request.splitType ?? "None",
    compressionType: request.compressionType ?? "None",
    batchStrategy: request.batchStrategy,
    maxPayloadInMb: request.maxPayloadInMb,
    maxConcurrentTransforms: request.maxConcurrentTransforms,
    assembleWith: request.assembleWith ?? "None",
    dataProcessing: {
      inputFilter: parsePath("InputFilter", request.inputFilter),
      outputFilter: parsePath("OutputFilter", request.outputFilter),
      joinSource: request.joinSource ?? "None",
    },
    invocationTimeoutMs: request.invocationTimeoutMs ?? defaultInvocationTimeoutMs,
    maxRetries: request.maxRetries ?? defaultMaxRetries,
  };
  problems.push(...jobProblems(job));
  if (problems.length > 0) throw new ConfigurationError(problems.length === 1 ? (problems[0]) : `${problems.length} problems with the transform job:\n  ${problems.join("\n  ")}`);
  return job;
}

function jobProblems(job: TransformJob): string[] {
  const problems: string[] = [];
  const { maxPayloadInMb: payload, maxConcurrentTransforms: concurrency } = job;
  if (payload !== undefined && (!Number.isInteger(payload) || payload < 0 || payload > maxPayloadInMbLimit)) {
    problems.push(`MaxPayloadInMB must be a whole number from 0 to ${maxPayloadInMbLimit}, not ${payload}`);
  }
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    problems.push(`MaxConcurrentTransforms must be a whole number of at least 1, not ${concurrency}`);
  }
  if (payload !== undefined && concurrency !== undefined && payload * concurrency > maxPayloadInMbLimit) {
    problems.push(`MaxConcurrentTransforms × MaxPayloadInMB is ${concurrency} × ${payload} = ${concurrency * payload}; SageMaker allows at most ${maxPayloadInMbLimit} MB`);
  }
  if (!Number.isInteger(job.maxRetries) || job.maxRetries < 0 || job.maxRetries > 3) problems.push(`InvocationsMaxRetries must be 0 to 3, not ${job.maxRetries}`);
  if (!Number.isInteger(job.invocationTimeoutMs) || job.invocationTimeoutMs < 1000 || job.invocationTimeoutMs > maxInvocationTimeoutMs) {
    problems.push(`InvocationsTimeoutInSeconds must be 1 to 3600, not ${job.invocationTimeoutMs / 1000}`);
  }
  for (const [name, type] of [
    ["ContentType", job.contentType],
    ["Accept", job.accept],
  ] as const) {
    if (type === undefined) continue;
    try {
      parseMediaType(type);
    } catch {
      problems.push(`${name} ${JSON.stringify(type)} is not a media type`);
    }
  }
  problems.push(...dataProcessingProblems(job));
  return problems;
}

function dataProcessingProblems(job: TransformJob): string[] {
  const { inputFilter, outputFilter, joinSource } = job.dataProcessing;
  const processes = !inputFilter.isRoot || !outputFilter.isRoot || joinSource === "Input";
  if (!processes) return [];
  const problems: string[] = [];
  const inputFormat = recordFormatOf(job.contentType);
  if (job.splitType === "RecordIO") problems.push("DataProcessing filters and JoinSource read CSV or JSON records; they cannot be used with SplitType RecordIO");
  if (inputFormat === undefined) {
    problems.push(`DataProcessing needs ContentType text/csv, application/json or application/jsonlines, not ${job.contentType ?? "none"}`);
    return problems;
  }
  if (joinSource === "Input" || !outputFilter.isRoot) {
    const outputFormat = recordFormatOf(job.accept ?? job.contentType);
    if (outputFormat !== inputFormat) {
      problems.push(`JoinSource Input and OutputFilter need Accept of the same kind as ContentType (${job.contentType ?? ""}): text/csv for CSV, a JSON type for JSON, not ${job.accept ?? "none"}`);
    }
  }
  if (inputFormat === "csv") {
    if (job.splitType !== "Line") problems.push("DataProcessing on CSV needs SplitType Line (one record per row)");
    if (job.assembleWith !== "Line" && (joinSource === "Input" || !outputFilter.isRoot)) problems.push("JoinSource and OutputFilter on CSV need AssembleWith Line");
    for (const [name, path] of [
      ["InputFilter", inputFilter],
      ["OutputFilter", outputFilter],
    ] as const) {
      if (!path.indexesOnly) problems.push(`${name} ${path.text}: a CSV row is an array, so only index paths apply ($[0], $[1:], $[0,-1])`);
    }
  }
  return problems;
}
