#!/usr/bin/env node
// First: refuses an unsupported Node.js before the other modules load.
import "./cli/supported-node.js";
import { readFileSync } from "node:fs";
import { buildCommand } from "./cli/build.js";
import { initCommand } from "./cli/init.js";
import type { CliCommand } from "./cli/command.js";
import { pushCommand } from "./cli/push.js";
import { runCommand } from "./cli/run.js";
import { serveCommand } from "./cli/serve.js";
import { asyncRequestsCommand } from "./cli/async-requests.js";
import { gatewayCommand } from "./cli/gateway.js";
import { invokeAsyncCommand } from "./cli/invoke-async.js";
import { invokeCommand } from "./cli/invoke.js";
import { pipelineCommand } from "./cli/pipeline.js";
import { transformCommand } from "./cli/transform.js";
import { ConfigurationError } from "./errors.js";

const commands: readonly CliCommand[] = [initCommand, serveCommand, buildCommand, runCommand, pushCommand, gatewayCommand, pipelineCommand, invokeCommand, invokeAsyncCommand, asyncRequestsCommand, transformCommand];

const usage = `Usage: sagemaker-byoc <command> [options]

Commands:
${commands.map((command) => `  ${command.name.padEnd(14)} ${command.summary}`).join("\n")}

Run \`sagemaker-byoc <command> --help\` for a command's options.
  -h, --help       this text
  -v, --version    the toolkit's version`;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "-v" || first === "--version") {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  if (first === undefined || first === "-h" || first === "--help") {
    console.log(usage);
    return first === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === first);
  if (command === undefined) {
    console.error(`sagemaker-byoc: unknown command ${JSON.stringify(first)}. This image serves inference: SageMaker starts it with "serve".\n\n${usage}`);
    return 2;
  }
  return command.run(rest, process.env);
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
