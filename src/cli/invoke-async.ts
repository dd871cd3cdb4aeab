import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { importCliDependency } from "../build/cli-only-dependencies.js";
import { asyncSettings } from "../config/async-config.js";
import { integer, maxTimerSeconds, seconds } from "../config/kinds.js";
import { parseFlagValue, resolveSettings } from "../config/resolve.js";
import { formatS3Uri, parseInputLocation, parseS3Uri, type S3Location } from "../gateway/async/s3-location.js";
import { createS3Client } from "../gateway/async/s3-transfer.js";
import { sleep } from "../gateway/async/retry.js";
import type { CliCommand } from "./command.js";
import { processIo, readInput, writeAll, type CommandIo } from "./io.js";
import { startProgress } from "./progress.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc invoke-async --input-location s3://bucket/key [options] [file]

Uploads the file (standard input for "-") to --input-location, calls InvokeEndpointAsync, waits
for the output or the failure object in S3 and prints it. Without a file, the object already at
--input-location is used. Against this toolkit's gateway it also follows the request's state, so
a failure without a failure object (no S3FailurePath) ends the wait at once.

Options:
  --input-location <uri>     where the payload is (or goes): s3://bucket/key
${settingFlagUsage([asyncSettings], "invoke-async")}
  --content-type <type>      X-Amzn-SageMaker-Content-Type (default application/json)
  --accept <type>            X-Amzn-SageMaker-Accept
  --custom-attributes <s>    X-Amzn-SageMaker-Custom-Attributes
  --inference-id <id>        X-Amzn-SageMaker-Inference-Id (default: generated)
  --request-ttl <seconds>    RequestTTLSeconds, 60-21600
  --invocation-timeout <s>   InvocationTimeoutSeconds, 1-3600
  --output <file>            write the result to a file instead of standard output
  --wait-timeout <seconds>   how long to wait for the result (default 3600)
  --no-wait                  print the locations and exit without waiting
  -h, --help                 this text

Exit codes: 0 success, 1 the inference failed (or no result in time), 2 usage error.`;

const options = {
  ...settingFlagOptions([asyncSettings], "invoke-async"),
  "input-location": { type: "string" },
  "content-type": { type: "string", default: "application/json" },
  accept: { type: "string" },
  "custom-attributes": { type: "string" },
  "inference-id": { type: "string" },
  "request-ttl": { type: "string" },
  "invocation-timeout": { type: "string" },
  output: { type: "string" },
  "wait-timeout": { type: "string" },
  "no-wait": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const firstPollMs = 250;
const maxPollMs = 5_000;
const statusTimeoutMs = 5_000;

/**
 * `invoke-async` with explicit streams, for tests; {@link invokeAsyncCommand} runs it with the process's.
 *
 * @example
 * ```ts
 * const code = await runInvokeAsync(["--input-location", "s3://b/in.json", "--endpoint-url", gateway.url, "in.json"], process.env, processIo());
 * ```
 */
export async function runInvokeAsync(argv: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) {
    await writeAll(io.stdout, `${usage}\n`);
    return 0;
  }
  const inputLocation = values["input-location"];
  const input = inputLocation === undefined ? undefined : parseInputLocation(inputLocation);
  if (inputLocation === undefined || input === undefined || positionals.length > 1) {
    await writeAll(io.stderr, `sagemaker-byoc invoke-async: give --input-location s3://bucket/key and at most one file\n\n${usage}\n`);
    return 2;
  }
  const waitMs = parseFlagValue("--wait-timeout", values["wait-timeout"], seconds({ max: maxTimerSeconds })) ?? 3_600_000;
  // Only whole numbers are checked here: the service answers a value out of its range itself.
  const requestTtl = parseFlagValue("--request-ttl", values["request-ttl"], integer({ min: 1, unit: "seconds" }));
  const invocationTimeout = parseFlagValue("--invocation-timeout", values["invocation-timeout"], integer({ min: 1, unit: "seconds" }));
  const config = resolveSettings(asyncSettings, { env, flags: { command: "invoke-async", values } });
  // Imported here: the client stays out of the serving image (build/cli-only-dependencies.ts).
  const { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } = await importCliDependency("@aws-sdk/client-sagemaker-runtime", "invoke-async", () => import("@aws-sdk/client-sagemaker-runtime"));
  const s3 = createS3Client(config);
  const runtime = new SageMakerRuntimeClient({ region: config.region, ...(config.runtimeEndpoint === undefined ? {} : { endpoint: config.runtimeEndpoint }) });
  try {
    const file = positionals[0];
    if (file !== undefined) await upload(s3, input, file, values["content-type"], io.stdin);
    const answer = await runtime
      .send(
        new InvokeEndpointAsyncCommand({
          EndpointName: config.endpointName,
          InputLocation: inputLocation,
          ContentType: values["content-type"],
          Accept: values.accept,
          CustomAttributes: values["custom-attributes"],
          InferenceId: values["inference-id"],
          RequestTTLSeconds: requestTtl,
          InvocationTimeoutSeconds: invocationTimeout,
        }),
      )
      .catch((error: unknown) => {
        if ((error as { $metadata?: unknown }).$metadata === undefined) throw error;
        return { failed: `${(error as Error).name}: ${(error as Error).message}` } as const;
      });
    if ("failed" in answer) {
      await writeAll(io.stderr, `sagemaker-byoc invoke-async: ${answer.failed}\n`);
      return 1;
    }
    await writeAll(
      io.stderr,
      `accepted: inference id ${answer.InferenceId}\n  output:  ${answer.OutputLocation}\n  failure: ${answer.FailureLocation ?? "(no S3FailurePath configured)"}\n`,
    );
    if (values["no-wait"]) return 0;
    const output = parseS3Uri(answer.OutputLocation ?? "");
    if (output === undefined) throw new Error(`The service answered without a usable OutputLocation (${answer.OutputLocation ?? "none"})`);
    const failure = answer.FailureLocation === undefined ? undefined : parseS3Uri(answer.FailureLocation);
    const progress = startProgress(io.stderr, `waiting for ${answer.OutputLocation}`);
    let found: WaitResult | undefined;
    try {
      const status = gatewayStatusReader(config.runtimeEndpoint, answer.InferenceId ?? "");
      found = await waitForResult({ s3, output, failure, status, waitMs, note: (text) => progress.note(text) });
    } finally {
      progress.stop();
    }
    if (found === undefined) {
      await writeAll(io.stderr, `sagemaker-byoc invoke-async: no result after ${waitMs / 1000} s; it may still come to ${answer.OutputLocation}\n`);
      return 1;
    }
    if (found.kind === "failed") {
      await writeAll(io.stderr, `sagemaker-byoc invoke-async: the inference failed: ${found.reason}\n`);
      return 1;
    }
    if (found.kind === "failure") {
      const body = await download(s3, failure as S3Location);
      await writeAll(io.stderr, `sagemaker-byoc invoke-async: the inference failed (${answer.FailureLocation}):\n`);
      await pipeline(body, io.stderr, { end: false });
      await writeAll(io.stderr, "\n");
      return 1;
    }
    const body = await download(s3, output);
    if (values.output === undefined) await pipeline(body, io.stdout, { end: false });
    else await pipeline(body, createWriteStream(values.output));
    return 0;
  } finally {
    s3.destroy();
    runtime.destroy();
  }
}

async function upload(s3: S3Client, location: S3Location, file: string, contentType: string, stdin: Readable): Promise<void> {
  // A file streams up in parts; standard input is read first (an upload needs its length or parts).
  const body = file === "-" ? await readInput(file, stdin) : await stat(file).then(() => createReadStream(file));
  await new Upload({ client: s3, params: { Bucket: location.bucket, Key: location.key, Body: body, ContentType: contentType } }).done();
}

/** What the wait found: the output object, the failure object, or a failure without an object. */
type WaitResult = { readonly kind: "output" } | { readonly kind: "failure" } | { readonly kind: "failed"; readonly reason: string };

/** A request's state as this toolkit's gateway reports it. */
interface GatewayStatus {
  readonly status: string;
  readonly failureReason?: string;
}

/**
 * Polls for the output or failure object with growing intervals; `undefined` after `waitMs`.
 * Where the gateway reports the request failed and there is no failure object (no failure path,
 * or its write failed), the wait ends with the gateway's failure reason.
 */
async function waitForResult(options: {
  readonly s3: S3Client;
  readonly output: S3Location;
  readonly failure: S3Location | undefined;
  readonly status: () => Promise<GatewayStatus | undefined>;
  readonly waitMs: number;
  readonly note: (text: string) => void;
}): Promise<WaitResult | undefined> {
  const { s3, output, failure, note } = options;
  const deadline = Date.now() + options.waitMs;
  const forbidden = new Set<string>();
  const onForbidden = (location: S3Location): void => {
    const uri = formatS3Uri(location);
    if (forbidden.has(uri)) return;
    forbidden.add(uri);
    note(`HeadObject ${uri} answered 403: without s3:ListBucket on the bucket, S3 answers 403 instead of 404 for a missing object; still waiting`);
  };
  for (let delay = firstPollMs; ; delay = Math.min(maxPollMs, delay * 1.5)) {
    // Asked first: once it says finished, the objects below are already written.
    const state = await options.status();
    if (await exists(s3, output, onForbidden)) return { kind: "output" };
    if (failure !== undefined && (await exists(s3, failure, onForbidden))) return { kind: "failure" };
    if (state?.status === "failed") return { kind: "failed", reason: state.failureReason ?? "no reason given" };
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(delay, left));
  }
}

/** True when the object exists; false for 404, and for 403 (`onForbidden` is told), which S3 answers for a missing key without s3:ListBucket. */
async function exists(s3: S3Client, location: S3Location, onForbidden: (location: S3Location) => void): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 403) onForbidden(location);
    if (status === 404 || status === 403) return false;
    throw error;
  }
}

/**
 * Reads a request's state from this toolkit's gateway (`GET /async-requests/{id}` beside the
 * SageMaker Runtime API). Without an endpoint override (AWS itself), or once the route answers
 * anything else than a request's state, it stops asking and always gives `undefined`.
 */
function gatewayStatusReader(endpoint: string | undefined, inferenceId: string): () => Promise<GatewayStatus | undefined> {
  if (endpoint === undefined || inferenceId === "") return () => Promise.resolve(undefined);
  const url = new URL(`async-requests/${encodeURIComponent(inferenceId)}`, endpoint.endsWith("/") ? endpoint : `${endpoint}/`);
  let available = true;
  return async () => {
    if (!available) return undefined;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(statusTimeoutMs) });
      const body = (await response.json().catch(() => undefined)) as Partial<GatewayStatus> | undefined;
      if (response.ok && typeof body?.status === "string") return body as GatewayStatus;
    } catch {
      // Not reachable that way: the S3 objects alone tell.
    }
    available = false;
    return undefined;
  };
}

async function download(s3: S3Client, location: S3Location): Promise<Readable> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  return answer.Body as Readable;
}

/** `invoke-async`: upload, InvokeEndpointAsync, wait for the result in S3, print it. */
export const invokeAsyncCommand: CliCommand = {
  name: "invoke-async",
  summary: "upload a payload, invoke asynchronously, wait for the result and print it",
  usage,
  run: (argv, env) => runInvokeAsync(argv, env, processIo()),
};
