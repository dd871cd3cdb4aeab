import { boolean, list, matching, oneOf, text } from "./kinds.js";
import { defineSettings, flag, setting } from "./setting.js";

/** Image targets: `cpu` (slim Node base) or `gpu` (CUDA 12 + cuDNN 9 base, CUDA provider). */
const buildTargets = ["cpu", "gpu"] as const;

/**
 * The kind of image `build` makes.
 *
 * @example
 * ```ts
 * const target: BuildTarget = "gpu";
 * ```
 */
export type BuildTarget = (typeof buildTargets)[number];

/** `--engine` values: `auto` picks docker when an engine answers, else buildah. */
export const engineChoices = ["auto", "docker", "buildah"] as const;

/**
 * Which tool builds and pushes.
 *
 * @example
 * ```ts
 * const engine: EngineChoice = "buildah";
 * ```
 */
export type EngineChoice = (typeof engineChoices)[number];

/**
 * Base image of each target, used when `--base-image` is not given. The GPU base carries the CUDA
 * 12 runtime and cuDNN 9 that onnxruntime-node 1.30's CUDA provider links against.
 */
export const defaultBaseImages = {
  cpu: "node:24-bookworm-slim",
  gpu: "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04",
} as const satisfies Readonly<Record<BuildTarget, string>>;

/** Where the GPU image copies Node from (`--node-image`). */
export const defaultNodeImage = "node:24-bookworm-slim";

/** An image reference as docker and buildah accept it: `[registry/]name[:tag][@digest]`. */
export const imageReference = matching(
  /^[a-z0-9](?:[a-z0-9._/:@-]*[a-z0-9._@-])?$/i,
  "an image reference such as node:24-bookworm-slim or registry:5000/team/app:1.0.0",
  { placeholder: "<name:tag>" },
);

/** Where the image is to be deployed: SageMaker (`push` prints the calls) or Vertex AI (`build` prints the gcloud commands). */
const deployPlatforms = ["sagemaker", "vertex"] as const;

/**
 * The platform `build` prints deployment commands for.
 *
 * @example
 * ```ts
 * const platform: DeployPlatform = "vertex";
 * ```
 */
export type DeployPlatform = (typeof deployPlatforms)[number];

/** Which tool builds and pushes; `build` and `push` share it. */
export const engineSetting = setting({
  kind: oneOf(engineChoices),
  flag: flag("--engine", ["build", "push"]),
  default: "auto",
  description: "`auto`: docker when its engine answers, else buildah",
});

const target = setting({
  kind: oneOf(buildTargets),
  flag: flag("--target", ["build"]),
  default: "cpu",
  description: "`cpu`: a slim Node base; `gpu`: CUDA 12 + cuDNN 9 with onnxruntime-node's CUDA provider",
});

/** Every setting of `build`, declared once; paths are relative to the working directory. */
export const buildSettings = defineSettings({
  output: setting({
    kind: text("a directory", { placeholder: "<dir>" }),
    flag: flag("--output", ["build"]),
    unset: "`<project>/.sagemaker-byoc/build`",
    description: "build context folder",
  }),
  handlers: setting({
    kind: text("a file", { placeholder: "<file>" }),
    flag: flag("--handlers", ["build"]),
    unset: "`<project>/code/inference.{ts,mts,js,mjs,cjs}` when present",
    description: "handlers file; its whole folder goes into the image",
  }),
  model: setting({
    kind: text("a model directory or model.tar.gz", { placeholder: "<dir|model.tar.gz>" }),
    flag: flag("--model", ["build"]),
    unset: "none: SageMaker places the model",
    description: "bake the model into `/opt/ml/model`",
  }),
  target,
  baseImage: setting({
    kind: imageReference,
    flag: flag("--base-image", ["build"]),
    derive: { text: `\`${defaultBaseImages.cpu}\` (cpu), \`${defaultBaseImages.gpu}\` (gpu)`, from: (read) => defaultBaseImages[read(target)] },
    description: "base image, also passed as the `BASE_IMAGE` build argument",
  }),
  nodeImage: setting({
    kind: imageReference,
    flag: flag("--node-image", ["build"]),
    default: defaultNodeImage,
    description: "gpu: the image Node is copied from (`NODE_IMAGE` argument)",
  }),
  multiModel: setting({
    kind: boolean(),
    flag: flag("--multi-model", ["build"], { sets: true }),
    default: false,
    description: "label the image for multi-model endpoints (which load models from S3, never from `/opt/ml/model`)",
  }),
  tags: setting({
    kind: list(imageReference, { expected: `${imageReference.expected}, or several separated by commas` }),
    flag: flag("--tag", ["build"], { repeatable: true }),
    unset: "`<package>:<version>` and, in a git checkout, `<package>:<version>-<commit>`",
    description: "image names to tag",
  }),
  engine: engineSetting,
  platform: setting({
    kind: oneOf(deployPlatforms),
    flag: flag("--platform", ["build"]),
    default: "sagemaker",
    description: "`sagemaker`: `push` prints the deployment calls; `vertex`: `build` prints the Artifact Registry and `gcloud ai` commands (docs/vertex.md)",
  }),
  build: setting({
    kind: boolean(),
    flag: flag("--no-build", ["build"], { sets: false }),
    default: true,
    description: "whether to build the image; `--no-build` writes the build context only",
  }),
});
