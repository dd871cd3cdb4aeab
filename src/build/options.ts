import { join, resolve } from "node:path";
import { buildSettings, type BuildTarget, type DeployPlatform, type EngineChoice } from "../config/build-settings.js";
import { pushSettings } from "../config/push-settings.js";
import { resolveSettings, type Env, type FlagValues } from "../config/resolve.js";
import type { PipelineDeployment } from "./deploy-hints.js";

export type { BuildTarget, DeployPlatform, EngineChoice } from "../config/build-settings.js";

/** The build context folder, relative to the project, when `--output` is not given. */
const defaultOutputFolder = join(".sagemaker-byoc", "build");

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
  /** `vertex`: print the commands that deploy the image on Vertex AI. */
  readonly platform: DeployPlatform;
}

/**
 * The `build` flags as the CLI parses them (keyed by flag name, see src/config/build-settings.ts),
 * and the project folder; paths are relative to the working directory.
 *
 * @example
 * ```ts
 * const flags: BuildFlags = { project: ".", model: "model.tar.gz", tag: ["iris:dev"] };
 * ```
 */
export type BuildFlags = FlagValues & { readonly project?: string | undefined };

/**
 * Validates the `build` flags and fills in the defaults. Throws a `ConfigurationError` naming
 * each invalid flag and the accepted values.
 *
 * @example
 * ```ts
 * loadBuildOptions({ target: "gpu" }, "/work/app").baseImage; // "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04"
 * ```
 */
export function loadBuildOptions(flags: BuildFlags, cwd: string): BuildOptions {
  const { project, ...values } = flags;
  const settings = resolveSettings(buildSettings, { flags: { command: "build", values } });
  const projectDir = resolve(cwd, project ?? ".");
  return {
    projectDir,
    outputDir: settings.output === undefined ? join(projectDir, defaultOutputFolder) : resolve(cwd, settings.output),
    handlersPath: settings.handlers === undefined ? undefined : resolve(cwd, settings.handlers),
    modelPath: settings.model === undefined ? undefined : resolve(cwd, settings.model),
    target: settings.target,
    baseImage: settings.baseImage,
    nodeImage: settings.nodeImage,
    multiModel: settings.multiModel,
    tags: settings.tags,
    engine: settings.engine,
    build: settings.build,
    platform: settings.platform,
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
  /** A multi-container model this image is one container of (`--pipeline-container`); else a single-container one. */
  readonly pipeline?: PipelineDeployment | undefined;
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
 * The `push` flags as the CLI parses them (keyed by flag name, see src/config/push-settings.ts),
 * and the project folder.
 *
 * @example
 * ```ts
 * const flags: PushFlags = { registry: "localhost:5000", "tls-verify": "false" };
 * ```
 */
export type PushFlags = FlagValues & { readonly project?: string | undefined };

/**
 * Validates the `push` flags, reads the AWS and registry settings from the environment and fills
 * in the defaults. Throws a `ConfigurationError` naming each invalid flag or variable.
 *
 * @example
 * ```ts
 * const options = loadPushOptions({ "ecr-endpoint": "http://127.0.0.1:4566" }, { AWS_REGION: "us-east-1" }, "/work/app");
 * ```
 */
export function loadPushOptions(flags: PushFlags, env: Env, cwd: string): PushOptions {
  const { project, ...values } = flags;
  const settings = resolveSettings(pushSettings, { env, flags: { command: "push", values } });
  const { awsAccessKeyId, awsSecretAccessKey, awsSessionToken, registryUsername, registryPassword } = settings;
  return {
    projectDir: resolve(cwd, project ?? "."),
    image: settings.image,
    repository: settings.repository,
    tags: settings.tags,
    engine: settings.engine,
    region: settings.region,
    ecrEndpoint: settings.ecrEndpoint,
    registry: settings.registry,
    tlsVerify: settings.tlsVerify,
    // The schema's rules make both of a pair set or neither.
    awsCredentials:
      awsAccessKeyId === undefined || awsSecretAccessKey === undefined
        ? undefined
        : { accessKeyId: awsAccessKeyId, secretAccessKey: awsSecretAccessKey, ...(awsSessionToken === undefined ? {} : { sessionToken: awsSessionToken }) },
    registryCredentials: registryUsername === undefined || registryPassword === undefined ? undefined : { username: registryUsername, password: registryPassword },
    deploy: {
      roleArn: settings.roleArn,
      modelDataUrl: settings.modelDataUrl,
      instanceType: settings.instanceType,
      name: settings.name,
      ...(settings.pipelineContainers === undefined
        ? {}
        : {
            pipeline: {
              mode: settings.pipelineMode,
              containers: settings.pipelineContainers.map((container) => {
                const [hostname = "", image = ""] = container.split("=");
                return { hostname, image: image === "." ? undefined : image };
              }),
            },
          }),
    },
  };
}
