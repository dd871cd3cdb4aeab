import { parseArgs } from "node:util";
import { CommandRunner } from "../build/command-runner.js";
import { engineChoices, type EngineChoice } from "../config/build-settings.js";
import { integer, oneOf } from "../config/kinds.js";
import { parseFlagValue } from "../config/resolve.js";
import { runImage } from "../build/run-image.js";
import { ConfigurationError } from "../errors.js";
import type { CliCommand } from "./command.js";

const usage = `Usage: sagemaker-byoc run [project folder] [options]

Runs the image \`build\` made the way SageMaker runs it: \`serve\` as its argument, the model
read-only at /opt/ml/model, the server on a port of this machine, your environment variables set,
its logs followed. Ctrl-C stops the server as SageMaker stops a container (SIGTERM, then SIGKILL
30 s later; a second Ctrl-C kills it at once), then removes the container. Uses docker when its
engine answers, else buildah (sharing this machine's network). See docs/container.md.
An image built with --multi-model runs as a multi-model endpoint: SAGEMAKER_MULTI_MODEL=true and
a models folder at /opt/ml/models (docs/multi-model.md).

Options:
  --image <name:tag>           local image (default <package>:<version>, as build tagged it)
  --model <dir|model.tar.gz>   mounted read-only at /opt/ml/model; an archive is extracted first,
                               as SageMaker extracts ModelDataUrl (default: the image's own model
                               when build baked one in, else <project>/model; none for a
                               multi-model image)
  --models <dir>               multi-model image: mounted read-only at /opt/ml/models, one
                               <name>/model folder per model (default <project>/models if any)
  --port <n>                   port on this machine (default 8080)
  --env <NAME=value>           set in the container, repeatable (as CreateModel's Environment)
  --engine <auto|docker|buildah>  (default auto: docker when its engine answers, else buildah)
  -h, --help                   this text`;

const options = {
  image: { type: "string" },
  model: { type: "string" },
  models: { type: "string" },
  port: { type: "string" },
  env: { type: "string", multiple: true },
  engine: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `run`: the built image, run locally as SageMaker runs it. */
export const runCommand: CliCommand = {
  name: "run",
  summary: "run the built image as SageMaker does (model at /opt/ml/model, port 8080); Ctrl-C removes it",
  usage,
  async run(argv, env) {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (positionals.length > 1) throw new ConfigurationError(`run takes one project folder, got ${positionals.length}: ${positionals.join(" ")}`);
    const engine: EngineChoice = parseFlagValue("--engine", values.engine, oneOf(engineChoices)) ?? "auto";
    const port = parseFlagValue("--port", values.port, integer({ min: 1, max: 65_535 })) ?? 8080;
    return runImage(
      {
        projectDir: positionals[0] ?? process.cwd(),
        image: values.image,
        model: values.model,
        models: values.models,
        port,
        env: containerEnv(values.env ?? []),
        engine,
      },
      new CommandRunner(env, (line) => console.error(line)),
      process,
    );
  },
};

/** `--env NAME=value` flags as a record; a name as SageMaker's Environment allows it. */
function containerEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf("=");
    const name = separator < 0 ? pair : pair.slice(0, separator);
    if (separator < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigurationError(`--env ${JSON.stringify(pair)} must be NAME=value, NAME of letters, digits and _`);
    env[name] = pair.slice(separator + 1);
  }
  return env;
}
