import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { awsEndpointSettings } from "../config/async-config.js";
import { integer, oneOf, seconds } from "../config/kinds.js";
import { parseFlagValue, resolveSettings } from "../config/resolve.js";
import type { ConfigOverrides } from "../config/server-config.js";
import { ContainerClient } from "../batch/container-client.js";
import { fromCreateTransformJob } from "../batch/create-transform-job.js";
import { runTransformJob, type JobSummary } from "../batch/job-runner.js";
import { resolveTransformJob, type TransformJob, type TransformJobRequest } from "../batch/job.js";
import { JobProgress, showProgress, type JobObserver } from "../batch/progress.js";
import { ConfigurationError } from "../errors.js";
import { createS3Client } from "../gateway/async/s3-transfer.js";
import { startServer, type RunningServer } from "../server.js";
import type { CliCommand } from "./command.js";
import { processIo, writeAll, type CommandIo } from "./io.js";

const usage = `Usage: sagemaker-byoc transform --input <folder|s3://prefix> --output <folder|s3://prefix> [options]

Runs a batch transform job the way SageMaker's CreateTransformJob does (docs/batch.md): every
input file is cut into records and mini-batches, sent to POST /invocations, and its answers are
written in order to <file>.out. Without --container-url, the model server starts in this process
with the environment SageMaker gives a transform job (SAGEMAKER_BATCH=true...). Run again with
the same output, a job skips the files whose .out exists and finishes the others.

Input and output:
  --input <path|uri>         S3Uri: an s3:// prefix, a local folder or one local file
  --manifest                 the input is a manifest file (S3DataType ManifestFile), local or s3://
  --output <path|uri>        S3OutputPath: an s3:// prefix or a local folder
  --job <file>               a CreateTransformJob request (JSON); the options below override it
  --no-resume                transform every input again, even those whose .out exists

The container:
  --container-url <url>      a running container, or any server with SageMaker's /ping and /invocations
  --model-dir <dir>          the in-process server's model (default: as serve, /opt/ml/model)
  --handlers <file>          the in-process server's handlers file
  --workers <n>              the in-process server's worker threads

The job (SageMaker's names; unset ones come from GET /execution-parameters, then the defaults):
  --content-type <type>      ContentType of the requests (none by default)
  --accept <type>            Accept of the requests (none by default)
  --split-type <type>        SplitType: None (default), Line or RecordIO
  --compression-type <type>  CompressionType: None (default) or Gzip
  --batch-strategy <s>       BatchStrategy: SingleRecord or MultiRecord (default)
  --max-payload <MB>         MaxPayloadInMB, 0-100 (default 6; 0 sends whole files)
  --max-concurrent-transforms <n>  MaxConcurrentTransforms (default 1)
  --assemble-with <type>     AssembleWith: None (default) or Line
  --input-filter <path>      DataProcessing.InputFilter, a JSONPath such as $[1:]
  --output-filter <path>     DataProcessing.OutputFilter, such as $[0,-1]
  --join-source <source>     DataProcessing.JoinSource: None (default) or Input
  --invocation-timeout <s>   InvocationsTimeoutInSeconds, 1-3600 (default 600)
  --max-retries <n>          InvocationsMaxRetries, 0-3 (default 3)
  -h, --help                 this text

Exit codes: 0 every file transformed, 1 a file failed (the summary names it), 2 usage error,
130 interrupted (run again to finish).`;

const options = {
  input: { type: "string" },
  manifest: { type: "boolean" },
  output: { type: "string" },
  job: { type: "string" },
  "no-resume": { type: "boolean" },
  "container-url": { type: "string" },
  "model-dir": { type: "string" },
  handlers: { type: "string" },
  workers: { type: "string" },
  "content-type": { type: "string" },
  accept: { type: "string" },
  "split-type": { type: "string" },
  "compression-type": { type: "string" },
  "batch-strategy": { type: "string" },
  "max-payload": { type: "string" },
  "max-concurrent-transforms": { type: "string" },
  "assemble-with": { type: "string" },
  "input-filter": { type: "string" },
  "output-filter": { type: "string" },
  "join-source": { type: "string" },
  "invocation-timeout": { type: "string" },
  "max-retries": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** How long a container gets to answer `/ping` with 200, as SageMaker's default start-up health check. */
const readyTimeoutMs = 240_000;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: false; strict: true }>>["values"];

/**
 * `transform` with explicit streams and an interruption signal, for tests; {@link transformCommand}
 * runs it with the process's streams and SIGINT/SIGTERM.
 *
 * @example
 * ```ts
 * const code = await runTransform(["--input", "data/", "--output", "out/", "--split-type", "Line", "--content-type", "text/csv"], process.env, processIo());
 * ```
 */
export async function runTransform(argv: string[], env: NodeJS.ProcessEnv, io: CommandIo, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  if (values.help === true) {
    await writeAll(io.stdout, `${usage}\n`);
    return 0;
  }
  const { request, environment } = await jobRequest(values);
  if (request.input === undefined || request.outputPath === undefined) {
    await writeAll(io.stderr, `sagemaker-byoc transform: give --input and --output (or a --job file that names them)\n\n${usage}\n`);
    return 2;
  }
  const job = resolveTransformJob({ ...request, input: request.input, outputPath: request.outputPath });
  const server = values["container-url"] === undefined ? await startLocalServer(job, values, { ...env, ...environment }) : undefined;
  try {
    const url = values["container-url"] ?? (server as RunningServer).url;
    return await transform(job, { url, waitForContainer: server === undefined, env, io, resume: values["no-resume"] !== true, signal });
  } catch (error) {
    if (!signal.aborted) throw error;
    await writeAll(io.stdout, "interrupted before any file was transformed\n");
    return 130;
  } finally {
    await server?.close();
  }
}

interface TransformRun {
  readonly url: string;
  readonly waitForContainer: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly io: CommandIo;
  readonly resume: boolean;
  readonly signal: AbortSignal;
}

async function transform(job: TransformJob, { url, waitForContainer, env, io, resume, signal }: TransformRun): Promise<number> {
  const container = new ContainerClient(url);
  if (waitForContainer) {
    await container.waitUntilReady(AbortSignal.any([signal, AbortSignal.timeout(readyTimeoutMs)])).catch((error: unknown) => {
      container.close();
      throw error;
    });
  }
  const endpoints = resolveSettings(awsEndpointSettings, { env });
  const progress = new JobProgress();
  const display = showProgress(io.stderr, progress);
  const observer: JobObserver = {
    started: (plan) => progress.started(plan),
    bytesRead: (bytes) => progress.bytesRead(bytes),
    batchDone: (records) => progress.batchDone(records),
    fileDone: () => progress.fileDone(),
    fileFailed: (location, message, records) => {
      progress.fileFailed(location, message, records);
      display.note(`failed: ${location}: ${message}`);
    },
    retrying: (location, reason) => display.note(`retrying: ${location}: ${reason}`),
  };
  let summary: JobSummary;
  try {
    summary = await runTransformJob(job, { container, s3: lazy(() => createS3Client(endpoints)), observer, signal, resume });
  } finally {
    display.stop();
    container.close();
  }
  await writeAll(io.stdout, describeSummary(summary));
  if (summary.interrupted) return 130;
  return summary.files.failed > 0 ? 1 : 0;
}

async function jobRequest(values: Values): Promise<{ request: Partial<TransformJobRequest>; environment: Readonly<Record<string, string>> }> {
  const fromFile = values.job === undefined ? { request: {}, environment: {} } : fromCreateTransformJob(await readJobFile(values.job));
  const flags: Partial<TransformJobRequest> = {
    ...(values.input === undefined ? {} : { input: { dataType: values.manifest === true ? "ManifestFile" : "S3Prefix", uri: values.input } }),
    ...(values.output === undefined ? {} : { outputPath: values.output }),
    contentType: values["content-type"],
    accept: values.accept,
    splitType: parseFlagValue("--split-type", values["split-type"], oneOf(["None", "Line", "RecordIO"])),
    compressionType: parseFlagValue("--compression-type", values["compression-type"], oneOf(["None", "Gzip"])),
    batchStrategy: parseFlagValue("--batch-strategy", values["batch-strategy"], oneOf(["SingleRecord", "MultiRecord"])),
    maxPayloadInMb: parseFlagValue("--max-payload", values["max-payload"], integer({ min: 0, max: 100 })),
    maxConcurrentTransforms: parseFlagValue("--max-concurrent-transforms", values["max-concurrent-transforms"], integer({ min: 1, max: 100 })),
    assembleWith: parseFlagValue("--assemble-with", values["assemble-with"], oneOf(["None", "Line"])),
    inputFilter: values["input-filter"],
    outputFilter: values["output-filter"],
    joinSource: parseFlagValue("--join-source", values["join-source"], oneOf(["None", "Input"])),
    invocationTimeoutMs: parseFlagValue("--invocation-timeout", values["invocation-timeout"], seconds({ max: 3600 })),
    maxRetries: parseFlagValue("--max-retries", values["max-retries"], integer({ min: 0, max: 3 })),
  };
  const merged: Record<string, unknown> = { ...fromFile.request };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value;
  return { request: merged, environment: fromFile.environment };
}

async function readJobFile(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8").catch((error: unknown) => {
    throw new ConfigurationError(`--job ${path} cannot be read: ${(error as Error).message}`);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigurationError(`--job ${path} is not JSON: ${(error as Error).message}`);
  }
}

/**
 * The model server in this process, with the environment SageMaker gives a transform job's
 * container: `SAGEMAKER_BATCH=true` and the job parameters the job sets (docs/batch.md).
 */
async function startLocalServer(job: TransformJob, values: Values, env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const overrides: ConfigOverrides = {
    port: 0,
    host: "127.0.0.1",
    modelDir: values["model-dir"],
    handlersPath: values.handlers,
    workers: parseFlagValue("--workers", values.workers, integer({ min: 1, max: 1024 })),
    // The server's request log would bury the progress bar; warnings and errors still show.
    logLevel: env["SAGEMAKER_CONTAINER_LOG_LEVEL"] === undefined ? "warn" : undefined,
  };
  const jobEnv: NodeJS.ProcessEnv = { ...env, SAGEMAKER_BATCH: "true" };
  if (job.maxPayloadInMb !== undefined) jobEnv["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = String(job.maxPayloadInMb);
  if (job.batchStrategy !== undefined) jobEnv["SAGEMAKER_BATCH_STRATEGY"] = job.batchStrategy === "SingleRecord" ? "SINGLE_RECORD" : "MULTI_RECORD";
  if (job.maxConcurrentTransforms !== undefined) jobEnv["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = String(job.maxConcurrentTransforms);
  const server = await startServer(overrides, jobEnv);
  await server.loaded;
  if (!server.ready) {
    // /ping says why, as it would to SageMaker.
    const ping = (await (await fetch(`${server.url}/ping`)).json()) as { error?: { message?: string } };
    await server.close();
    throw new Error(`The model did not load: ${ping.error?.message ?? "see the server's log"}`);
  }
  return server;
}

function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

const count = new Intl.NumberFormat("en-US");

/**
 * The summary printed at the end of a job.
 *
 * @example
 * ```ts
 * describeSummary(summary); // "transformed 3 of 3 files: 1,000 records in 1.2 s (833 records/s) ..."
 * ```
 */
export function describeSummary(summary: JobSummary): string {
  const { files, records, parameters } = summary;
  const seconds = summary.elapsedMs / 1000;
  const perSecond = seconds > 0 ? Math.round(records.transformed / seconds) : 0;
  const lines = [
    `${summary.interrupted ? "interrupted: " : ""}transformed ${files.transformed} of ${files.total} file${files.total === 1 ? "" : "s"}` +
      `${files.skipped > 0 ? ` (${files.skipped} skipped: their .out exists)` : ""}: ${count.format(records.transformed)} records in ${seconds.toFixed(1)} s (${count.format(perSecond)} records/s)`,
    `parameters: BatchStrategy ${parameters.batchStrategy}, MaxPayloadInMB ${parameters.maxPayloadInMb}, MaxConcurrentTransforms ${parameters.maxConcurrentTransforms}`,
  ];
  if (files.failed > 0) {
    lines.push(`${files.failed} file${files.failed === 1 ? "" : "s"} failed (${count.format(records.failed)} record${records.failed === 1 ? "" : "s"} in the failed requests):`);
    for (const failure of summary.failures) lines.push(`  ${failure.file}: ${failure.message}`);
  }
  if (summary.interrupted) lines.push("run the same command again to finish: files whose .out exists are skipped");
  return `${lines.join("\n")}\n`;
}

/** `transform`: a local batch transform job. */
export const transformCommand: CliCommand = {
  name: "transform",
  summary: "run a batch transform job (CreateTransformJob) locally",
  usage,
  async run(argv, env) {
    const interrupt = new AbortController();
    const stop = (): void => interrupt.abort(new Error("interrupted"));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      return await runTransform(argv, env, processIo(), interrupt.signal);
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
  },
};
