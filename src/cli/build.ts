import { buildImage } from "../build/build.js";
import { renderVertexHints } from "../build/deploy-hints.js";
import { CommandRunner } from "../build/command-runner.js";
import { loadBuildOptions } from "../build/options.js";
import { buildSettings } from "../config/build-settings.js";
import type { CliCommand } from "./command.js";
import { parseProjectArgs } from "./project-args.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc build [project folder] [options]

Writes a build context (Dockerfile, serve entrypoint, compiled handlers, production dependencies,
.dockerignore) and builds the image with docker, or with buildah when no Docker engine answers.
Prints the image names on stdout; progress goes to stderr. See docs/container.md.

Options (paths are relative to the working directory):
${settingFlagUsage([buildSettings], "build")}
  -h, --help                 this text

Ctrl-C (SIGINT) or SIGTERM removes the project's .npmrc from the build context before exiting
(130, 143); the context's .gitignore keeps it out of git regardless.`;

const options = { ...settingFlagOptions([buildSettings], "build"), help: { type: "boolean", short: "h" } } as const;

/** `build`: the build context and the image (docker or buildah). */
export const buildCommand: CliCommand = {
  name: "build",
  summary: "write a build context (Dockerfile, compiled handlers, dependencies) and build the image",
  usage,
  async run(argv, env) {
    const { values, project } = parseProjectArgs("build", argv, options);
    if (values.help === true) {
      console.log(usage);
      return 0;
    }
    const buildOptions = loadBuildOptions({ ...values, project }, process.cwd());
    const result = await buildImage(buildOptions, new CommandRunner(env, (line) => console.error(line)));
    if (buildOptions.platform === "vertex") {
      console.error(renderVertexHints({ image: result.tags[0] as string, bakedModel: result.context.bakedModel, target: buildOptions.target }));
    }
    console.log(result.engine === undefined ? result.context.dir : result.tags.join("\n"));
    return 0;
  },
};
