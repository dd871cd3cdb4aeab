import { parseArgs } from "node:util";
import { pipelineSettings } from "../config/pipeline-config.js";
import { resolveSettings } from "../config/resolve.js";
import { startPipelineGateway, type RunningPipelineGateway } from "../gateway/pipeline/index.js";
import type { CliCommand } from "./command.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc pipeline --container [<name>=]<url|dir> --container [<name>=]<url|dir> ... [options]

A local SageMaker multi-container endpoint: 2 to 15 containers behind the SageMaker Runtime API
(InvokeEndpoint), chained as an inference pipeline (--mode Serial: each container's answer is the
next one's request, with its Content-Type) or invoked one at a time (--mode Direct, with
TargetContainerHostname). A container is the URL of a running server (http://host:8080), or a
model directory that this command serves on a port of its own (SAGEMAKER_BIND_TO_PORT).

  sagemaker-byoc pipeline \\
    --container detection=examples/ocr/model --container recognition=examples/ocr/model \\
    --container-env detection:BYOC_HANDLERS=examples/ocr/inference.ts \\
    --container-env detection:SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=application/x-ocr-lines+json \\
    --container-env recognition:BYOC_HANDLERS=examples/ocr/recognition.ts

Options (docs/pipelines.md lists every setting and its variable):
${settingFlagUsage([pipelineSettings], "pipeline")}
  -h, --help                 this text`;

const options = { ...settingFlagOptions([pipelineSettings], "pipeline"), help: { type: "boolean", short: "h" } } as const;

/**
 * Starts the multi-container endpoint the flags describe, or prints the usage for `--help`
 * (then `undefined`).
 *
 * @example
 * ```ts
 * const gateway = await startPipelineFromFlags(["--container", "pre=http://127.0.0.1:9001", "--container", "model=./model"], process.env);
 * ```
 */
export async function startPipelineFromFlags(argv: string[], env: NodeJS.ProcessEnv): Promise<RunningPipelineGateway | undefined> {
  const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  if (values.help === true) {
    console.log(usage);
    return undefined;
  }
  return startPipelineGateway({ config: resolveSettings(pipelineSettings, { env, flags: { command: "pipeline", values } }), env });
}

/** `pipeline`: a SageMaker multi-container endpoint (serial inference pipeline or direct invocation) on this machine. */
export const pipelineCommand: CliCommand = {
  name: "pipeline",
  summary: "run 2-15 containers as a SageMaker inference pipeline or multi-container endpoint",
  usage,
  async run(argv, env) {
    const gateway = await startPipelineFromFlags(argv, env);
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
