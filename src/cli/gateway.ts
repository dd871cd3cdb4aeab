import { parseArgs } from "node:util";
import { asyncSettings } from "../config/async-config.js";
import { resolveSettings } from "../config/resolve.js";
import { startAsyncGateway, type RunningAsyncGateway } from "../gateway/index.js";
import { HttpInvoker } from "../gateway/invoker.js";
import { HttpModelHost } from "../gateway/multi-model/model-host.js";
import { ConfigurationError } from "../errors.js";
import type { CliCommand } from "./command.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc gateway --invocations-url <url> [options]

A local SageMaker asynchronous endpoint in front of any SageMaker-compatible container: speaks
the SageMaker Runtime API (InvokeEndpoint, InvokeEndpointAsync) and forwards each inference to the
container's /invocations, with S3 payloads, SNS notifications and a durable queue. With
--model-data-url it is the front end of a multi-model endpoint: InvokeEndpoint with TargetModel
fetches the model from S3 into --model-cache-dir and loads it through the container's /models API
(docs/multi-model.md, "Local gateway").

Options (docs/async.md lists every setting and its variable):
${settingFlagUsage([asyncSettings], "gateway")}
  -h, --help                 this text`;

const options = { ...settingFlagOptions([asyncSettings], "gateway"), help: { type: "boolean", short: "h" } } as const;

/**
 * Starts the gateway the flags describe, or prints the usage for `--help` (then `undefined`).
 *
 * @example
 * ```ts
 * const gateway = await startGatewayFromFlags(["--invocations-url", "http://model:8080/invocations"], process.env);
 * ```
 */
export async function startGatewayFromFlags(argv: string[], env: NodeJS.ProcessEnv): Promise<RunningAsyncGateway | undefined> {
  const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  if (values.help === true) {
    console.log(usage);
    return undefined;
  }
  const config = resolveSettings(asyncSettings, { env, flags: { command: "gateway", values } });
  if (config.invocationsUrl === undefined) throw new ConfigurationError("gateway needs --invocations-url (or BYOC_ASYNC_INVOCATIONS_URL): the container's /invocations URL");
  const multiModel = config.multiModel.modelDataUrl === undefined ? undefined : { host: new HttpModelHost(config.invocationsUrl) };
  return startAsyncGateway({ config, invoker: new HttpInvoker(config.invocationsUrl), ...(multiModel === undefined ? {} : { multiModel }) });
}

/** `gateway`: the async gateway beside a container, which may not be built with this toolkit. */
export const gatewayCommand: CliCommand = {
  name: "gateway",
  summary: "SageMaker Runtime gateway (real-time and async) in front of any container",
  usage,
  async run(argv, env) {
    const gateway = await startGatewayFromFlags(argv, env);
    if (gateway === undefined) return 0;
    const stop = (): void => {
      gateway.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return -1;
  },
};
