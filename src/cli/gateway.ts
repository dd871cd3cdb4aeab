import { parseArgs } from "node:util";
import { loadAsyncConfig } from "../config/async-config.js";
import { startAsyncGateway, type RunningAsyncGateway } from "../gateway/index.js";
import { HttpInvoker } from "../gateway/invoker.js";
import { parseLogLevel } from "../config/server-config.js";
import { ConfigurationError } from "../errors.js";
import { asyncFlagOptions, asyncFlagUsage, asyncOverridesFrom } from "./async-flags.js";
import type { CliCommand } from "./command.js";
import { integerFlag } from "./flags.js";

const usage = `Usage: sagemaker-byoc gateway --invocations-url <url> [options]

A local SageMaker asynchronous endpoint in front of any SageMaker-compatible container: speaks
the SageMaker Runtime API (InvokeEndpoint, InvokeEndpointAsync) and forwards each inference to the
container's /invocations, with S3 payloads, SNS notifications and a durable queue.

Options (each also has an environment variable; see docs/async.md):
  --invocations-url <url>    the container's /invocations, e.g. http://localhost:8080/invocations
  --port <n>                 gateway port (default $BYOC_ASYNC_PORT or 8081)
  --host <addr>              interface (default 0.0.0.0)
${asyncFlagUsage}
  --log-level <level>        trace, debug, info, warn, error (default info)
  -h, --help                 this text`;

const options = {
  "invocations-url": { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  "log-level": { type: "string" },
  ...asyncFlagOptions,
  help: { type: "boolean", short: "h" },
} as const;

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
  if (values.help) {
    console.log(usage);
    return undefined;
  }
  const config = loadAsyncConfig(env, {
    ...asyncOverridesFrom(values),
    invocationsUrl: values["invocations-url"],
    port: integerFlag("port", values.port, 0),
    host: values.host,
    logLevel: parseLogLevel("--log-level", values["log-level"]),
  });
  if (config.invocationsUrl === undefined) throw new ConfigurationError("gateway needs --invocations-url (or BYOC_ASYNC_INVOCATIONS_URL): the container's /invocations URL");
  return startAsyncGateway({ config, invoker: new HttpInvoker(config.invocationsUrl) });
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
