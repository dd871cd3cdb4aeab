import { join, resolve } from "node:path";
import { ConfigurationError } from "../errors.js";
import { EnvReader, type Env } from "../config/env-reader.js";

/** Image targets: `cpu` (slim Node base) or `gpu` (CUDA 12 + cuDNN 9 base, CUDA provider). */
export const buildTargets = ["cpu", "gpu"] as const;
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
export const defaultBaseImages: Readonly<Record<BuildTarget, string>> = {
  cpu: "node:24-bookworm-slim",
  gpu: "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04",
};

/** Where the GPU image copies Node from (`--node-image`). */
export const defaultNodeImage = "node:24-bookworm-slim";

/** The build context folder, relative to the project, when `--output` is not given. */
export const defaultOutputFolder = join(".sagemaker-byoc", "build");

/**
 * Everything `sagemaker-byoc build` needs, after defaults and validation.
 *
 * @example
 * ```ts
 * const options = loadBuildOptions({ target: "gpu", "no-build": true }, process.cwd());
 * ```
 */
export interface BuildOptions {
  /** The user's project: `package.json`, handlers, model. */
  readonly projectDir: string;
  /** The build context folder written by `build`. */
  readonly outputDir: string;
  /** An explicit handlers file; else `<project>/code/inference.*` when present. */
  readonly handlersPath: string | undefined;
  /** A model directory or `model.tar.gz` baked into `/opt/ml/model`; else SageMaker places it. */
  readonly modelPath: string | undefined;
  readonly target: BuildTarget;
  /** Default of the Dockerfile's `BASE_IMAGE` argument, and the value passed to the build. */
  readonly baseImage: string;
  /** GPU target: the image Node is copied from (`NODE_IMAGE` argument). */
  readonly nodeImage: string;
  /** Adds the multi-model label, so SageMaker can host many models behind one endpoint. */
  readonly multiModel: boolean;
  /** Image names to tag (`name:tag`); by default from the package name, version and git commit. */
  readonly tags: readonly string[] | undefined;
  readonly engine: EngineChoice;
  /** False with `--no-build`: write the context only. */
  readonly build: boolean;
}

/**
 * The `build` flags as the CLI parses them; paths are relative to the working directory.
 *
 * @example
 * ```ts
 * const flags: BuildFlags = { project: ".", model: "model.tar.gz", tag: ["iris:dev"] };
 * ```
 */
export interface BuildFlags {
  readonly project?: string | undefined;
  readonly output?: string | undefined;
  readonly handlers?: string | undefined;
  readonly model?: string | undefined;
  readonly target?: string | undefined;
  readonly "base-image"?: string | undefined;
  readonly "node-image"?: string | undefined;
  readonly "multi-model"?: boolean | undefined;
  readonly tag?: readonly string[] | undefined;
  readonly engine?: string | undefined;
  readonly "no-build"?: boolean | undefined;
}

/**
 * Validates the `build` flags and fills in the defaults. Throws {@link ConfigurationError} naming
 * the flag and the accepted values.
 *
 * @example
 * ```ts
 * loadBuildOptions({ target: "gpu" }, "/work/app").baseImage; // "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04"
 * ```
 */
export function loadBuildOptions(flags: BuildFlags, cwd: string): BuildOptions {
  const projectDir = resolve(cwd, flags.project ?? ".");
  const target = choice("--target", flags.target, buildTargets, "cpu");
  const tags = flags.tag?.map((tag) => imageReference("--tag", tag));
  return {
    projectDir,
    outputDir: flags.output === undefined ? join(projectDir, defaultOutputFolder) : resolve(cwd, flags.output),
    handlersPath: flags.handlers === undefined ? undefined : resolve(cwd, flags.handlers),
    modelPath: flags.model === undefined ? undefined : resolve(cwd, flags.model),
    target,
    baseImage: imageReference("--base-image", flags["base-image"] ?? defaultBaseImages[target]),
    nodeImage: imageReference("--node-image", flags["node-image"] ?? defaultNodeImage),
    multiModel: flags["multi-model"] ?? false,
    tags: tags === undefined || tags.length === 0 ? undefined : tags,
    engine: choice("--engine", flags.engine, engineChoices, "auto"),
    build: !(flags["no-build"] ?? false),
  };
}

/**
 * AWS credentials given in the environment. Absent, the AWS SDK's own chain applies (profiles,
 * SSO, instance and container roles).
 *
 * @example
 * ```ts
 * const credentials: AwsCredentials = { accessKeyId: "AKIA...", secretAccessKey: "..." };
 * ```
 */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * A user name and password for a registry.
 *
 * @example
 * ```ts
 * const credentials: RegistryCredentials = { username: "AWS", password: token };
 * ```
 */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * What the printed deployment commands are filled in with.
 *
 * @example
 * ```ts
 * const deploy: DeploySettings = { roleArn: undefined, modelDataUrl: "s3://bucket/iris/model.tar.gz", instanceType: undefined, name: undefined };
 * ```
 */
export interface DeploySettings {
  /** The SageMaker execution role; without it the commands create one. */
  readonly roleArn: string | undefined;
  /** `s3://` URL of `model.tar.gz` (or, for a multi-model image, of the models' prefix). */
  readonly modelDataUrl: string | undefined;
  /** Instance type; by default `ml.m5.large` for CPU images and `ml.g5.xlarge` for GPU images. */
  readonly instanceType: string | undefined;
  /** Name of the model, endpoint configuration and endpoint; by default from the repository and tag. */
  readonly name: string | undefined;
}

/**
 * Everything `sagemaker-byoc push` needs, after defaults and validation.
 *
 * @example
 * ```ts
 * const options = loadPushOptions({ region: "eu-west-1" }, process.env, process.cwd());
 * ```
 */
export interface PushOptions {
  /** The project whose `package.json` names the image and repository by default. */
  readonly projectDir: string;
  /** The local image to push; by default `<package name>:<version>`, as `build` tagged it. */
  readonly image: string | undefined;
  /** Repository in the registry; by default the package name. */
  readonly repository: string | undefined;
  /** Tags to push; by default the version and the version with the git commit, from the image's labels. */
  readonly tags: readonly string[] | undefined;
  readonly engine: EngineChoice;
  /** AWS region of the ECR registry (`--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, else the AWS profile's). */
  readonly region: string | undefined;
  /** The ECR API endpoint, for VPC endpoints and local stand-ins (`--ecr-endpoint`). */
  readonly ecrEndpoint: string | undefined;
  /** Any OCI registry (`host[:port]`) instead of ECR: no ECR calls are made. */
  readonly registry: string | undefined;
  /** False for a registry served over plain HTTP or with a self-signed certificate. */
  readonly tlsVerify: boolean;
  readonly awsCredentials: AwsCredentials | undefined;
  /** For `--registry`: `BYOC_REGISTRY_USERNAME` and `BYOC_REGISTRY_PASSWORD`; else the tool's own login. */
  readonly registryCredentials: RegistryCredentials | undefined;
  readonly deploy: DeploySettings;
}

/**
 * The `push` flags as the CLI parses them.
 *
 * @example
 * ```ts
 * const flags: PushFlags = { registry: "localhost:5000", "tls-verify": "false" };
 * ```
 */
export interface PushFlags {
  readonly project?: string | undefined;
  readonly image?: string | undefined;
  readonly repository?: string | undefined;
  readonly tag?: readonly string[] | undefined;
  readonly engine?: string | undefined;
  readonly region?: string | undefined;
  readonly "ecr-endpoint"?: string | undefined;
  readonly registry?: string | undefined;
  readonly "tls-verify"?: string | undefined;
  readonly "role-arn"?: string | undefined;
  readonly "model-data"?: string | undefined;
  readonly "instance-type"?: string | undefined;
  readonly name?: string | undefined;
}

/**
 * Validates the `push` flags, reads the AWS and registry settings from the environment and fills
 * in the defaults. Throws {@link ConfigurationError} naming the flag or variable.
 *
 * @example
 * ```ts
 * const options = loadPushOptions({ "ecr-endpoint": "http://127.0.0.1:4566" }, { AWS_REGION: "us-east-1" }, "/work/app");
 * ```
 */
export function loadPushOptions(flags: PushFlags, env: Env, cwd: string): PushOptions {
  const read = new EnvReader(env);
  const tags = flags.tag?.map((tag) => tagName("--tag", tag));
  return {
    projectDir: resolve(cwd, flags.project ?? "."),
    image: flags.image === undefined ? undefined : imageReference("--image", flags.image),
    repository: flags.repository === undefined ? undefined : repositoryPath("--repository", flags.repository),
    tags: tags === undefined || tags.length === 0 ? undefined : tags,
    engine: choice("--engine", flags.engine, engineChoices, "auto"),
    region: flags.region ?? read.optionalString("AWS_REGION") ?? read.optionalString("AWS_DEFAULT_REGION"),
    ecrEndpoint: flags["ecr-endpoint"] === undefined ? undefined : httpUrl("--ecr-endpoint", flags["ecr-endpoint"]),
    registry: flags.registry === undefined ? undefined : registryHost("--registry", flags.registry),
    tlsVerify: booleanFlag("--tls-verify", flags["tls-verify"], true),
    awsCredentials: awsCredentials(read),
    registryCredentials: registryCredentials(read),
    deploy: {
      roleArn: flags["role-arn"] === undefined ? undefined : roleArn("--role-arn", flags["role-arn"]),
      modelDataUrl: flags["model-data"] === undefined ? undefined : s3Url("--model-data", flags["model-data"]),
      instanceType: flags["instance-type"] === undefined ? undefined : instanceType("--instance-type", flags["instance-type"]),
      name: flags.name === undefined ? undefined : resourceName("--name", flags.name),
    },
  };
}

function awsCredentials(read: EnvReader): AwsCredentials | undefined {
  const accessKeyId = read.optionalString("AWS_ACCESS_KEY_ID");
  const secretAccessKey = read.optionalString("AWS_SECRET_ACCESS_KEY");
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const missing = accessKeyId === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY";
    throw new ConfigurationError(`${missing} is not set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together`);
  }
  const sessionToken = read.optionalString("AWS_SESSION_TOKEN");
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

function registryCredentials(read: EnvReader): RegistryCredentials | undefined {
  const username = read.optionalString("BYOC_REGISTRY_USERNAME");
  const password = read.optionalString("BYOC_REGISTRY_PASSWORD");
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    const missing = username === undefined ? "BYOC_REGISTRY_USERNAME" : "BYOC_REGISTRY_PASSWORD";
    throw new ConfigurationError(`${missing} is not set: BYOC_REGISTRY_USERNAME and BYOC_REGISTRY_PASSWORD go together`);
  }
  return { username, password };
}

function choice<T extends string>(flag: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const match = choices.find((candidate) => candidate === value.trim().toLowerCase());
  if (match === undefined) throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not one of ${choices.join(", ")}`);
  return match;
}

function booleanFlag(flag: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const normalised = value.trim().toLowerCase();
  if (normalised === "true") return true;
  if (normalised === "false") return false;
  throw new ConfigurationError(`${flag}=${JSON.stringify(value)} must be true or false`);
}

/** An image reference as docker and buildah accept it: `[registry/]name[:tag][@digest]`. */
function imageReference(flag: string, value: string): string {
  const trimmed = value.trim();
  if (!/^[a-z0-9][a-z0-9._/:@-]*$/i.test(trimmed) || trimmed.endsWith(":") || trimmed.endsWith("/")) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not an image reference such as node:24-bookworm-slim or registry:5000/team/app:1.0.0`);
  }
  return trimmed;
}

function tagName(flag: string, value: string): string {
  if (!/^[\w][\w.-]{0,127}$/.test(value)) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not an image tag: letters, digits, _ . - (up to 128, not starting with . or -)`);
  }
  return value;
}

function repositoryPath(flag: string, value: string): string {
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(value) || value.length > 256) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not a repository name: lowercase letters, digits, . _ - and / between parts`);
  }
  return value;
}

function registryHost(flag: string, value: string): string {
  const host = value.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  if (!/^[a-z0-9.-]+(?::\d{1,5})?$/i.test(host) && !/^\[[0-9a-f:]+\](?::\d{1,5})?$/i.test(host)) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not a registry host such as registry.example.com or 127.0.0.1:5000`);
  }
  return host;
}

function httpUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not a URL such as https://api.ecr.eu-west-1.amazonaws.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} must be an http:// or https:// URL`);
  }
  return value;
}

/**
 * An IAM role ARN as SageMaker's ExecutionRoleArn accepts it: partition, 12-digit account, an
 * optional path and a role name of IAM's characters. Strict, since it is printed into shell
 * commands the user copies.
 */
function roleArn(flag: string, value: string): string {
  if (!/^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/.test(value) || value.length > 2048) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} must be an IAM role ARN such as arn:aws:iam::123456789012:role/sagemaker-execution`);
  }
  return value;
}

/**
 * An `s3://bucket[/key]` URL: a bucket name as S3 allows it (lowercase letters, digits, dots and
 * hyphens, 3 to 63) and a key of S3's safe characters (letters, digits, ! - _ . * ' ( ) and /),
 * at most 1024 characters as ModelDataUrl allows. Keys with other characters work in S3 but need
 * encoding in places; they are refused here rather than printed into shell commands.
 */
function s3Url(flag: string, value: string): string {
  const bucket = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/[\w!.*'()/-]*)?$/.exec(value)?.[1];
  if (bucket === undefined || bucket.includes("..") || value.length > 1024) {
    throw new ConfigurationError(
      `${flag} ${JSON.stringify(value)} must be an s3:// URL such as s3://my-bucket/iris/model.tar.gz: a bucket name ` +
        "(lowercase letters, digits, . and -) and a key of letters, digits and ! - _ . * ' ( ) /",
    );
  }
  return value;
}

function instanceType(flag: string, value: string): string {
  if (!/^ml\.[a-z0-9-]+\.[a-z0-9]+$/.test(value)) throw new ConfigurationError(`${flag} ${JSON.stringify(value)} must be a SageMaker instance type such as ml.m5.large`);
  return value;
}

function resourceName(flag: string, value: string): string {
  if (!/^[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}$/.test(value)) {
    throw new ConfigurationError(`${flag} ${JSON.stringify(value)} is not a SageMaker name: letters, digits and hyphens, up to 63`);
  }
  return value;
}

