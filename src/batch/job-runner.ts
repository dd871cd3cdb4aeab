import { isAbsolute, relative, resolve } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import { bytesPerPayloadMb } from "../config/batch-settings.js";
import { ConfigurationError } from "../errors.js";
import type { BackoffOptions } from "../gateway/async/retry.js";
import { parseS3Uri } from "../gateway/async/s3-location.js";
import type { ContainerClient, InvocationAnswer, TransformHeaders } from "./container-client.js";
import { createRecordProcessing, type RecordProcessing } from "./data-processing.js";
import { listInputs, type InputObject } from "./input-listing.js";
import type { BatchStrategy, TransformJob } from "./job.js";
import { MiniBatcher, type MiniBatch } from "./mini-batch.js";
import { assembleOutput } from "./output-assembly.js";
import { outputTarget, type OutputTarget, type OutputWriter } from "./output-target.js";
import type { JobObserver } from "./progress.js";
import { createSplitter, type InputRecord } from "./record-splitter.js";
import { invokeWithRetries, type RetryPolicy } from "./retries.js";
import { Semaphore } from "./semaphore.js";

/**
 * The parameters a job ran with: the job's own, else the container's suggestion
 * (`GET /execution-parameters`), else SageMaker's defaults (docs/batch.md).
 *
 * @example
 * ```ts
 * const parameters: JobParameters = { batchStrategy: "MultiRecord", maxPayloadInMb: 6, maxConcurrentTransforms: 1 };
 * ```
 */
export interface JobParameters {
  readonly batchStrategy: BatchStrategy;
  readonly maxPayloadInMb: number;
  readonly maxConcurrentTransforms: number;
}

/**
 * How a job went.
 *
 * @example
 * ```ts
 * const summary: JobSummary = await runTransformJob(job, { container });
 * if (summary.files.failed > 0) process.exitCode = 1;
 * ```
 */
export interface JobSummary {
  readonly parameters: JobParameters;
  readonly files: { readonly total: number; readonly transformed: number; readonly skipped: number; readonly failed: number };
  /** Records answered, and records of the requests (or the record) that failed. */
  readonly records: { readonly transformed: number; readonly failed: number };
  readonly failures: readonly { readonly file: string; readonly message: string }[];
  readonly elapsedMs: number;
  /** The job's signal fired: the files in progress were dropped and are to be redone. */
  readonly interrupted: boolean;
}

/**
 * What a job needs besides its description.
 *
 * @example
 * ```ts
 * const dependencies: JobDependencies = { container: new ContainerClient(url), s3: () => s3, observer: progress };
 * ```
 */
export interface JobDependencies {
  readonly container: ContainerClient;
  /** The S3 client, made on first use (a job on local files needs none). */
  readonly s3?: () => S3Client;
  readonly observer?: JobObserver;
  /** Stops the job: requests in flight are abandoned and partial outputs dropped. */
  readonly signal?: AbortSignal;
  /** Spacing of retries; a jittered exponential backoff from 1 s up to 20 s by default. */
  readonly backoff?: BackoffOptions;
  /** Resume (the default): skip inputs whose `.out` exists. `false` transforms them again. */
  readonly resume?: boolean;
}

/** SageMaker's defaults for parameters neither the job nor the container sets. */
const defaultParameters: JobParameters = { batchStrategy: "MultiRecord", maxPayloadInMb: 6, maxConcurrentTransforms: 1 };
const defaultBackoff: BackoffOptions = { baseMs: 1_000, maxMs: 20_000 };

const silent: JobObserver = { started() {}, bytesRead() {}, batchDone() {}, fileDone() {}, fileFailed() {}, retrying() {} };

/**
 * Runs a transform job against a container, as SageMaker does (docs/batch.md): resolves the
 * parameters, lists the input files and skips those whose `<name>.out` exists (so a job run
 * again after an interruption finishes the rest), then, `MaxConcurrentTransforms` requests at a
 * time across files, cuts each file into records and mini-batches, sends them with retries, and
 * writes the answers in order to `<name>.out`. A file whose request fails (after its retries)
 * gets no output; the other files go on.
 *
 * @throws ConfigurationError when the input or output cannot be used.
 * @example
 * ```ts
 * const summary = await runTransformJob(resolveTransformJob(request), { container: new ContainerClient("http://localhost:8080") });
 * ```
 */
export async function runTransformJob(job: TransformJob, dependencies: JobDependencies): Promise<JobSummary> {
  const started = performance.now();
  const signal = dependencies.signal ?? new AbortController().signal;
  const observer = dependencies.observer ?? silent;
  const s3 = dependencies.s3 ?? noS3;
  checkLocations(job);
  const parameters = await resolveParameters(job, dependencies.container, signal);
  const inputs = await listInputs(job.input, s3);
  const output = outputTarget(job.outputPath, s3);
  const existing = dependencies.resume === false ? new Set<string>() : await output.existing();
  const pending = inputs.filter((input) => !existing.has(`${input.name}.out`));
  observer.started({ files: inputs.length, skipped: inputs.length - pending.length, bytes: pending.reduce((total, input) => total + input.size, 0) });

  const context: FileContext = {
    job,
    parameters,
    container: dependencies.container,
    output,
    observer,
    signal,
    permits: new Semaphore(parameters.maxConcurrentTransforms),
    processing: createRecordProcessing(job),
    headers: { contentType: job.contentType, accept: job.accept },
    policy: { maxRetries: job.maxRetries, timeoutMs: job.invocationTimeoutMs, backoff: dependencies.backoff ?? defaultBackoff },
  };
  const outcomes: FileOutcome[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(parameters.maxConcurrentTransforms, pending.length) }, async () => {
    while (next < pending.length && !signal.aborted) outcomes.push(await transformFile(pending[next++] as InputObject, context));
  });
  await Promise.all(lanes);

  const failures = outcomes.filter((outcome) => outcome.failure !== undefined);
  return {
    parameters,
    files: { total: inputs.length, transformed: outcomes.filter((outcome) => outcome.done).length, skipped: inputs.length - pending.length, failed: failures.length },
    records: { transformed: outcomes.reduce((total, outcome) => total + outcome.records, 0), failed: failures.reduce((total, outcome) => total + outcome.recordsFailed, 0) },
    failures: failures.map((outcome) => ({ file: outcome.location, message: outcome.failure as string })),
    elapsedMs: performance.now() - started,
    interrupted: signal.aborted,
  };
}

function noS3(): S3Client {
  throw new ConfigurationError("This job reads or writes S3 but was given no S3 client");
}

/** A local output folder inside the local input folder would have its outputs read as inputs by the next run. */
function checkLocations(job: TransformJob): void {
  if (job.input.dataType !== "S3Prefix" || parseS3Uri(job.input.uri) !== undefined || parseS3Uri(job.outputPath) !== undefined) return;
  const inside = relative(resolve(job.input.uri), resolve(job.outputPath));
  if (inside === "" || (!inside.startsWith("..") && !isAbsolute(inside))) {
    throw new ConfigurationError(`The output folder ${job.outputPath} is inside the input folder ${job.input.uri}: the next run would read its .out files as inputs`);
  }
}

async function resolveParameters(job: TransformJob, container: ContainerClient, signal: AbortSignal): Promise<JobParameters> {
  const complete = job.batchStrategy !== undefined && job.maxPayloadInMb !== undefined && job.maxConcurrentTransforms !== undefined;
  const suggested = complete ? {} : await container.executionParameters(signal);
  const suggestedStrategy = suggested.batchStrategy === undefined ? undefined : suggested.batchStrategy === "SINGLE_RECORD" ? "SingleRecord" : "MultiRecord";
  return {
    batchStrategy: job.batchStrategy ?? suggestedStrategy ?? defaultParameters.batchStrategy,
    maxPayloadInMb: job.maxPayloadInMb ?? suggested.maxPayloadInMb ?? defaultParameters.maxPayloadInMb,
    maxConcurrentTransforms: job.maxConcurrentTransforms ?? suggested.maxConcurrentTransforms ?? defaultParameters.maxConcurrentTransforms,
  };
}

interface FileContext {
  readonly job: TransformJob;
  readonly parameters: JobParameters;
  readonly container: ContainerClient;
  readonly output: OutputTarget;
  readonly observer: JobObserver;
  readonly signal: AbortSignal;
  readonly permits: Semaphore;
  readonly processing: RecordProcessing;
  readonly headers: TransformHeaders;
  readonly policy: RetryPolicy;
}

interface FileOutcome {
  readonly location: string;
  readonly done: boolean;
  readonly records: number;
  readonly recordsFailed: number;
  readonly failure: string | undefined;
}

/** A failure tied to the records it concerns. */
class RecordsFailure extends Error {
  readonly first: number;
  readonly count: number;
  constructor(first: number, count: number, cause: unknown) {
    super((cause as Error).message, { cause });
    this.first = first;
    this.count = count;
  }
}

interface Answered {
  readonly batch: MiniBatch;
  readonly answer: InvocationAnswer;
}

/** Answered batches kept per file before the oldest is written: bounds memory while one request is slow. */
const windowPerPermit = 2;

async function transformFile(input: InputObject, context: FileContext): Promise<FileOutcome> {
  const { job, parameters, observer } = context;
  const abort = new AbortController();
  const signal = AbortSignal.any([context.signal, abort.signal]);
  const maxBytes = parameters.maxPayloadInMb === 0 ? Infinity : parameters.maxPayloadInMb * bytesPerPayloadMb;
  const batcher = new MiniBatcher({ strategy: parameters.batchStrategy, maxBytes, splitType: job.splitType, keepInputs: job.dataProcessing.joinSource === "Input" });
  const window: Promise<Answered>[] = [];
  const maxWindow = parameters.maxConcurrentTransforms * windowPerPermit;
  let writer: OutputWriter | undefined;
  let records = 0;
  let nextRecord = 0;
  const name = `${input.name}.out`;

  const writeOldest = async (): Promise<void> => {
    const { batch, answer } = await (window.shift() as Promise<Answered>);
    let chunk: Buffer;
    try {
      chunk = assembleOutput(answer, batch, { assembleWith: job.assembleWith, processing: context.processing });
    } catch (error) {
      throw new RecordsFailure(batch.firstRecord, batch.records, error);
    }
    writer ??= context.output.open(name, job.accept ?? answer.contentType);
    await writer.write(chunk);
    records += batch.records;
    observer.batchDone(batch.records);
  };
  const send = async (batch: MiniBatch): Promise<void> => {
    while (window.length >= maxWindow) await writeOldest();
    const release = await context.permits.acquire(signal);
    const answered = invokeWithRetries(context.container, batch.body, context.headers, context.policy, signal, (reason, attempt) =>
      observer.retrying(input.location, `records ${range(batch.firstRecord, batch.records)}: ${reason}; retry ${attempt} of ${job.maxRetries}`, attempt),
    )
      .then((answer) => ({ batch, answer }))
      .catch((error: unknown) => {
        throw new RecordsFailure(batch.firstRecord, batch.records, error);
      })
      .finally(release);
    // Awaited in order by writeOldest; until then a failure must not count as unhandled.
    answered.catch(() => undefined);
    window.push(answered);
  };
  const add = async (batchRecords: readonly InputRecord[]): Promise<void> => {
    for (const record of batchRecords) {
      const position = nextRecord++;
      let batch: MiniBatch | undefined;
      try {
        batch = batcher.add(record, context.processing.filtersInput ? context.processing.filterInput(record.data) : undefined);
      } catch (error) {
        throw new RecordsFailure(position, 1, error);
      }
      if (batch !== undefined) await send(batch);
    }
  };

  try {
    const source = await open(input, job, signal, (bytes) => observer.bytesRead(bytes));
    const splitter = createSplitter(job.splitType, maxBytes);
    for await (const chunk of source) await add(splitter.push(chunk as Buffer));
    await add(splitter.end());
    const last = batcher.flush();
    if (last !== undefined) await send(last);
    while (window.length > 0) await writeOldest();
    writer ??= context.output.open(name, job.accept);
    await writer.commit();
    observer.fileDone(input.location, records);
    return { location: input.location, done: true, records, recordsFailed: 0, failure: undefined };
  } catch (error) {
    abort.abort();
    await Promise.allSettled(window);
    await writer?.abort();
    if (context.signal.aborted) return { location: input.location, done: false, records, recordsFailed: 0, failure: undefined };
    const failed = error instanceof RecordsFailure ? error.count : 0;
    const cause = error instanceof RecordsFailure ? (error.cause as Error) : (error as Error);
    const where = error instanceof RecordsFailure ? `records ${range(error.first, error.count)}: ` : "";
    const message = `${where}${cause.message}; no ${context.output.locate(name)} was written`;
    observer.fileFailed(input.location, message, failed);
    return { location: input.location, done: false, records, recordsFailed: failed, failure: message };
  }
}

/** The file's content as a stream, decompressed for `CompressionType: Gzip`; `counted` learns of every byte read. */
async function open(input: InputObject, job: TransformJob, signal: AbortSignal, counted: (bytes: number) => void): Promise<AsyncIterable<unknown>> {
  const raw: Readable = await input.open(signal);
  const onAbort = (): void => void raw.destroy(signal.reason as Error);
  signal.addEventListener("abort", onAbort, { once: true });
  raw.once("close", () => signal.removeEventListener("abort", onAbort));
  const read = counting(raw, counted);
  return job.compressionType === "Gzip" ? pipeline(Readable.from(read), createGunzip(), () => undefined) : read;
}

async function* counting(stream: Readable, counted: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    counted((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

/** `1-100` (1-based) for records 0 to 99; `5` for a single record. */
function range(first: number, count: number): string {
  return count === 1 ? `${first + 1}` : `${first + 1}-${first + count}`;
}
