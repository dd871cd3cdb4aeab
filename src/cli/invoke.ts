import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { importCliDependency } from "../build/cli-only-dependencies.js";
import { asyncSettings, type AsyncConfig } from "../config/async-config.js";
import { resolveSettings } from "../config/resolve.js";
import type { CliCommand } from "./command.js";
import { processIo, readInput, writeAll, type CommandIo } from "./io.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc invoke [options] [file]

Sends one real-time request (InvokeEndpoint) and prints the response body. The body is the file,
or standard input for "-" or no file.

Options:
${settingFlagUsage([asyncSettings], "invoke")}
  --container-url <url>      POST to a container's /invocations directly instead, e.g. http://localhost:8080
  --content-type <type>      request Content-Type (default application/json)
  --accept <type>            response types accepted
  --custom-attributes <s>    X-Amzn-SageMaker-Custom-Attributes
  --inference-id <id>        X-Amzn-SageMaker-Inference-Id
  --output <file>            write the body to a file instead of standard output
  -h, --help                 this text

Exit codes: 0 success, 1 the model or the service answered an error, 2 usage error.`;

const options = {
  ...settingFlagOptions([asyncSettings], "invoke"),
  "container-url": { type: "string" },
  "content-type": { type: "string", default: "application/json" },
  accept: { type: "string" },
  "custom-attributes": { type: "string" },
  "inference-id": { type: "string" },
  output: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

interface ServiceError {
  readonly name: string;
  readonly message: string;
  readonly OriginalStatusCode?: number;
  readonly OriginalMessage?: string;
  readonly $metadata?: unknown;
}

/**
 * `invoke` with explicit streams, for tests; {@link invokeCommand} runs it with the process's.
 *
 * @example
 * ```ts
 * const code = await runInvoke(["--endpoint-url", gateway.url, "payload.json"], process.env, processIo());
 * ```
 */
export async function runInvoke(argv: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) {
    await writeAll(io.stdout, `${usage}\n`);
    return 0;
  }
  if (positionals.length > 1) {
    await writeAll(io.stderr, `sagemaker-byoc invoke: one input file at most, got ${positionals.length}\n\n${usage}\n`);
    return 2;
  }
  const config = resolveSettings(asyncSettings, { env, flags: { command: "invoke", values } });
  const body = await readInput(positionals[0], io.stdin);
  const headers = {
    contentType: values["content-type"],
    accept: values.accept,
    customAttributes: values["custom-attributes"],
    inferenceId: values["inference-id"],
  };
  const answer =
    values["container-url"] === undefined
      ? await throughRuntime(config, body, headers)
      : await direct(values["container-url"], body, headers);
  if (!answer.ok) {
    await writeAll(io.stderr, `${answer.error}\n`);
    return 1;
  }
  if (values.output === undefined) await writeAll(io.stdout, answer.body);
  else await writeFile(values.output, answer.body);
  return 0;
}

type Answer = { readonly ok: true; readonly body: Uint8Array } | { readonly ok: false; readonly error: string };

interface Headers {
  readonly contentType: string;
  readonly accept: string | undefined;
  readonly customAttributes: string | undefined;
  readonly inferenceId: string | undefined;
}

async function throughRuntime(config: AsyncConfig, body: Buffer, headers: Headers): Promise<Answer> {
  // Imported here: the client stays out of the serving image (build/cli-only-dependencies.ts).
  const { InvokeEndpointCommand, SageMakerRuntimeClient } = await importCliDependency("@aws-sdk/client-sagemaker-runtime", "invoke", () => import("@aws-sdk/client-sagemaker-runtime"));
  const client = new SageMakerRuntimeClient({ region: config.region, ...(config.runtimeEndpoint === undefined ? {} : { endpoint: config.runtimeEndpoint }) });
  try {
    const answer = await client.send(
      new InvokeEndpointCommand({
        EndpointName: config.endpointName,
        Body: body,
        ContentType: headers.contentType,
        Accept: headers.accept,
        CustomAttributes: headers.customAttributes,
        InferenceId: headers.inferenceId,
      }),
    );
    return { ok: true, body: answer.Body ?? new Uint8Array() };
  } catch (error) {
    const failure = error as ServiceError;
    if (failure.$metadata === undefined) throw error;
    const original = failure.OriginalStatusCode === undefined ? "" : ` (the model answered ${failure.OriginalStatusCode}: ${failure.OriginalMessage ?? ""})`;
    return { ok: false, error: `sagemaker-byoc invoke: ${failure.name}: ${failure.message}${original}` };
  } finally {
    client.destroy();
  }
}

async function direct(containerUrl: string, body: Buffer, headers: Headers): Promise<Answer> {
  const url = new URL(containerUrl);
  if (!url.pathname.endsWith("/invocations")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/invocations`;
  const sent: Record<string, string> = { "content-type": headers.contentType };
  if (headers.accept !== undefined) sent["accept"] = headers.accept;
  if (headers.customAttributes !== undefined) sent["x-amzn-sagemaker-custom-attributes"] = headers.customAttributes;
  if (headers.inferenceId !== undefined) sent["x-amzn-sagemaker-inference-id"] = headers.inferenceId;
  const response = await fetch(url, { method: "POST", body, headers: sent });
  const answer = new Uint8Array(await response.arrayBuffer());
  if (response.ok) return { ok: true, body: answer };
  return { ok: false, error: `sagemaker-byoc invoke: the container answered ${response.status}: ${Buffer.from(answer).toString("utf8")}` };
}

/** `invoke`: one real-time request through the SageMaker Runtime API or straight to a container. */
export const invokeCommand: CliCommand = {
  name: "invoke",
  summary: "send one real-time request and print the answer",
  usage,
  run: (argv, env) => runInvoke(argv, env, processIo()),
};
