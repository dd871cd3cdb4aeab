import { buildImage } from "../build/build.js";
import { CommandRunner } from "../build/command-runner.js";
import { loadBuildOptions } from "../build/options.js";
import type { CliCommand } from "./command.js";
import { parseProjectArgs } from "./project-args.js";

const usage = `Usage: sagemaker-byoc build [project folder] [options]

Writes a build context (Dockerfile, serve entrypoint, compiled handlers, production dependencies,
.dockerignore) and builds the image with docker, or with buildah when no Docker engine answers.
Prints the image names on stdout; progress goes to stderr. See docs/container.md.

Options (paths are relative to the working directory):
  --output <dir>               build context folder (default <project>/.sagemaker-byoc/build)
  --handlers <file>            handlers file; its whole folder goes into the image
                               (default <project>/code/inference.{ts,mts,js,mjs,cjs}, else in the
                               --model folder's code/, where serve looks too)
  --model <dir|model.tar.gz>   bake the model into /opt/ml/model (default: none; SageMaker places
                               the model.tar.gz of CreateModel's ModelDataUrl there)
  --target <cpu|gpu>           cpu: node:24-bookworm-slim; gpu: CUDA 12 + cuDNN 9 with
                               onnxruntime-node's CUDA provider, BYOC_ONNX_PROVIDERS=cuda,cpu (default cpu)
  --base-image <image>         base image, also passed as the BASE_IMAGE build argument
  --node-image <image>         gpu: the image Node is copied from (default node:24-bookworm-slim)
  --multi-model                label the image for multi-model endpoints (which load models from
                               S3, never from /opt/ml/model: a --model with it is only warned about)
  --tag <name:tag>             image name, repeatable (default <package>:<version> and,
                               in a git checkout, <package>:<version>-<commit>)
  --engine <auto|docker|buildah>  auto: docker when its engine answers, else buildah (default auto)
  --no-build                   write the build context only
  -h, --help                   this text

Ctrl-C (SIGINT) or SIGTERM removes the project's .npmrc from the build context before exiting
(130, 143); the context's .gitignore keeps it out of git regardless.`;

const options = {
  output: { type: "string" },
  handlers: { type: "string" },
  model: { type: "string" },
  target: { type: "string" },
  "base-image": { type: "string" },
  "node-image": { type: "string" },
  "multi-model": { type: "boolean" },
  tag: { type: "string", multiple: true },
  engine: { type: "string" },
  "no-build": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `build`: the build context and the image (docker or buildah). */
export const buildCommand: CliCommand = {
  name: "build",
  summary: "write a build context (Dockerfile, compiled handlers, dependencies) and build the image",
  usage,
  async run(argv, env) {
    const { values, project } = parseProjectArgs("build", argv, options);
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const buildOptions = loadBuildOptions({ ...values, project }, process.cwd());
    const result = await buildImage(buildOptions, new CommandRunner(env, (line) => console.error(line)));
    console.log(result.engine === undefined ? result.context.dir : result.tags.join("\n"));
    return 0;
  },
};
