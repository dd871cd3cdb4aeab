import { parseArgs } from "node:util";
import { asyncModeSettings, asyncSettings } from "../config/async-config.js";
import { resolveSettings } from "../config/resolve.js";
import { serverSettings } from "../config/server-config.js";
import { startServer } from "../server.js";
import { asyncConfigForServe, startAsyncForServe } from "./async-flags.js";
import type { CliCommand } from "./command.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc serve [options]

Serves the handlers and model the SageMaker way: GET /ping, POST /invocations.

Options (the README's settings table lists every setting and its variable):
${settingFlagUsage([serverSettings], "serve")}
  -h, --help                 this text

Async inference (a local SageMaker Runtime on its own port; docs/async.md):
${settingFlagUsage([asyncModeSettings, asyncSettings], "serve", [serverSettings])}`;

const options = {
  ...settingFlagOptions([serverSettings, asyncModeSettings, asyncSettings], "serve"),
  help: { type: "boolean", short: "h" },
} as const;

/** `serve`: the model server SageMaker starts (`docker run IMAGE serve`). */
export const serveCommand: CliCommand = {
  name: "serve",
  summary: "serve the handlers and model: GET /ping, POST /invocations",
  usage,
  async run(argv, env) {
    const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
    if (values.help === true) {
      console.log(usage);
      return 0;
    }
    const asyncConfig = asyncConfigForServe(values, env);
    const server = await startServer(resolveSettings(serverSettings, { env, flags: { command: "serve", values } }), env);
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
