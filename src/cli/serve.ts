import { parseArgs } from "node:util";
import { executionProviderNames, parseList, parseLogLevel, type ConfigOverrides } from "../config/server-config.js";
import { startServer } from "../server.js";
import { asyncConfigForServe, serveAsyncOptions, serveAsyncUsage, startAsyncForServe } from "./async-flags.js";
import type { CliCommand } from "./command.js";
import { integerFlag, secondsFlag } from "./flags.js";

const usage = `Usage: sagemaker-byoc serve [options]

Serves the handlers and model the SageMaker way: GET /ping, POST /invocations.

Options (each also has an environment variable; see the README's settings table):
  --model-dir <dir>          model artifacts (default /opt/ml/model)
  --handlers <file>          handlers file, .ts or .js (default: code/inference.* here, else
                             in <model dir>/code/, as build looks for it)
  --port <n>                 port (default $SAGEMAKER_BIND_TO_PORT or 8080)
  --host <addr>              interface (default 0.0.0.0)
  --workers <n>              inference worker threads (default: CPU count - 1, at least 1)
  --timeout <seconds>        time limit of one request (default 60)
  --max-payload-bytes <n>    largest request body (default 6291456)
  --providers <list>         ONNX execution providers in order, e.g. cuda,cpu (default cpu)
  --log-level <level>        trace, debug, info, warn, error (default info)
  -h, --help                 this text
${serveAsyncUsage}`;

const options = {
  "model-dir": { type: "string" },
  handlers: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  workers: { type: "string" },
  timeout: { type: "string" },
  "max-payload-bytes": { type: "string" },
  providers: { type: "string" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
  ...serveAsyncOptions,
} as const;

function parse(argv: string[]) {
  return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
}

function overridesFrom(values: ReturnType<typeof parse>["values"], env: NodeJS.ProcessEnv): ConfigOverrides {
  return {
    modelDir: values["model-dir"],
    handlersPath: values.handlers ?? env["BYOC_HANDLERS"],
    port: integerFlag("port", values.port, 0),
    host: values.host,
    workers: integerFlag("workers", values.workers, 1),
    timeoutMs: secondsFlag("timeout", values.timeout),
    maxPayloadBytes: integerFlag("max-payload-bytes", values["max-payload-bytes"], 1),
    logLevel: parseLogLevel("--log-level", values["log-level"]),
    ...(values.providers === undefined
      ? {}
      : { onnx: { executionProviders: parseList("--providers", values.providers, executionProviderNames) } }),
  };
}

/** `serve`: the model server SageMaker starts (`docker run IMAGE serve`). */
export const serveCommand: CliCommand = {
  name: "serve",
  summary: "serve the handlers and model: GET /ping, POST /invocations",
  usage,
  async run(argv, env) {
    const { values } = parse(argv);
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const asyncConfig = asyncConfigForServe(values, env);
    const server = await startServer(overridesFrom(values, env), env);
    const close = await startAsyncForServe(asyncConfig, server);
    const stop = (signal: string) => {
      server.log.info({ signal }, "signal received");
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          server.log.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    return -1;
  },
};
