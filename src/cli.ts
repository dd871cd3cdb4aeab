#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { executionProviderNames, parseList, parseLogLevel, type ConfigOverrides } from "./config.js";
import { ConfigurationError } from "./errors.js";
import { startServer } from "./server/server.js";

const usage = `Usage: sagemaker-byoc serve [options]

Serves the handlers and model the SageMaker way: GET /ping, POST /invocations.

Options (each also has an environment variable; see the README's settings table):
  --model-dir <dir>          model artifacts (default /opt/ml/model)
  --handlers <file>          handlers file, .ts or .js (default: <model dir>/code/inference.*)
  --port <n>                 port (default $SAGEMAKER_BIND_TO_PORT or 8080)
  --host <addr>              interface (default 0.0.0.0)
  --workers <n>              inference worker threads (default: CPU count)
  --timeout <seconds>        time limit of one request (default 60)
  --max-payload-bytes <n>    largest request body (default 6291456)
  --providers <list>         ONNX execution providers in order, e.g. cuda,cpu (default cpu)
  --log-level <level>        trace, debug, info, warn, error (default info)
  -h, --help                 this text
  -v, --version              the toolkit's version`;

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
  version: { type: "boolean", short: "v" },
} as const;

function integerFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new ConfigurationError(`--${name} ${JSON.stringify(value)} must be a whole number >= ${min}`);
  return parsed;
}

function secondsFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new ConfigurationError(`--${name} ${JSON.stringify(value)} must be a positive number of seconds`);
  return Math.round(parsed * 1000);
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

function parse(argv: string[]) {
  return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const command = positionals[0];
  if (values.help || command === undefined) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  if (command !== "serve" || positionals.length > 1) {
    console.error(`sagemaker-byoc: unknown command ${JSON.stringify(positionals.join(" "))}. This image serves inference: SageMaker starts it with "serve".\n\n${usage}`);
    return 2;
  }
  const server = await startServer(overridesFrom(values, process.env));
  const stop = (signal: string) => {
    server.log.info({ signal }, "signal received");
    server.close().then(
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
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`sagemaker-byoc: ${message}`);
    process.exitCode = error instanceof ConfigurationError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
  },
);
