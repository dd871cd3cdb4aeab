import { boolean, httpUrl, list, matching, oneOf, region, sagemakerName, text } from "./kinds.js";
import { defineSettings, flag, setting, type RuleContext, type Setting } from "./setting.js";
import { engineSetting, imageReference } from "./build-settings.js";
import { containerLimits, type InferenceExecutionMode } from "./pipeline-config.js";

const tagName = matching(/^\w[\w.-]{0,127}$/, "an image tag: letters, digits, _ . - (up to 128, not starting with . or -)", { placeholder: "<tag>" });

const awsAccessKeyId = setting({ kind: text("an access key id"), env: "AWS_ACCESS_KEY_ID", description: "AWS access key id" });
const awsSecretAccessKey = setting({ kind: text("a secret key", { secret: true }), env: "AWS_SECRET_ACCESS_KEY", description: "AWS secret access key" });
const registryUsername = setting({ kind: text("a user name"), env: "BYOC_REGISTRY_USERNAME", description: "user name for --registry" });
const registryPassword = setting({ kind: text("a password", { secret: true }), env: "BYOC_REGISTRY_PASSWORD", description: "password for --registry" });

const pipelineContainer = matching(
  /^(?=[^=]{1,63}=)[a-zA-Z0-9](?:-*[a-zA-Z0-9])*=(?:\.|[a-z0-9](?:[a-z0-9._/:@-]*[a-z0-9._@-])?)$/i,
  "<hostname>=<image URI>, or <hostname>=. for the image this command pushes",
  { placeholder: "<name=image>" },
);
const pipelineContainers = setting({
  kind: list(pipelineContainer, { expected: `${pipelineContainer.expected}; several separated by commas`, placeholder: "<name=image>" }),
  flag: flag("--pipeline-container", ["push"], { repeatable: true }),
  unset: "none: a single-container model",
  description: "print CreateModel for a multi-container model: its containers in order (docs/pipelines.md)",
});
const pipelineMode = setting({
  kind: oneOf<InferenceExecutionMode>(["Serial", "Direct"]),
  flag: flag("--pipeline-mode", ["push"]),
  default: "Serial",
  description: "`InferenceExecutionConfig.Mode` of the multi-container model",
});

/** A multi-container model: 2 to 15 containers, unique hostnames, the pushed image among them. */
function pipelineRule({ read, given, isSet }: RuleContext): string | undefined {
  const containers = read(pipelineContainers);
  if (containers === undefined) return isSet(pipelineMode) ? `${given(pipelineMode)} needs --pipeline-container` : undefined;
  const hostnames = containers.map((container) => container.slice(0, container.indexOf("=")));
  if (containers.length < containerLimits.min || containers.length > containerLimits.max) {
    return `--pipeline-container is given ${containers.length} times; a multi-container model has ${containerLimits.min} to ${containerLimits.max} containers`;
  }
  const repeated = hostnames.find((hostname, index) => hostnames.indexOf(hostname) !== index);
  if (repeated !== undefined) return `--pipeline-container names ${repeated} twice; hostnames must be unique`;
  if (!containers.some((container) => container.endsWith("=."))) return "--pipeline-container: name the image this command pushes as <hostname>=.";
  return undefined;
}

/** Both settings or neither: one without the other is a mistake. */
function together(first: Setting<string, false>, second: Setting<string, false>) {
  return ({ isSet }: RuleContext): string | undefined => {
    if (isSet(first) === isSet(second)) return undefined;
    const [missing] = (isSet(first) ? second : first).env;
    return `${missing} is not set: ${first.env.join(", ")} and ${second.env.join(", ")} go together`;
  };
}

/** Every setting of `push`, declared once. */
export const pushSettings = defineSettings(
  {
    image: setting({
      kind: imageReference,
      flag: flag("--image", ["push"]),
      unset: "`<package>:<version>`, as `build` tagged it",
      description: "the local image",
    }),
    repository: setting({
      kind: matching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, "a repository name: lowercase letters, digits, . _ - and / between parts", {
        placeholder: "<name>",
        maxLength: 256,
      }),
      flag: flag("--repository", ["push"]),
      unset: "the package name",
      description: "repository in the registry",
    }),
    tags: setting({
      kind: list(tagName, { expected: `${tagName.expected}; several separated by commas` }),
      flag: flag("--tag", ["push"], { repeatable: true }),
      unset: "`<version>` and `<version>-<commit>`, from the image's labels",
      description: "tags to push",
    }),
    engine: engineSetting,
    region: setting({
      kind: region(),
      env: ["AWS_REGION", "AWS_DEFAULT_REGION"],
      flag: flag("--region", ["push"]),
      unset: "the AWS profile's",
      description: "region of the ECR registry",
    }),
    ecrEndpoint: setting({
      kind: httpUrl(),
      flag: flag("--ecr-endpoint", ["push"]),
      unset: "the SDK's",
      description: "ECR API endpoint (VPC endpoints, local stand-ins)",
    }),
    registry: setting({
      kind: matching(/^(?:[a-z0-9.-]+|\[[0-9a-f:]+\])(?::\d{1,5})?$/i, "a registry host such as registry.example.com or 127.0.0.1:5000", {
        placeholder: "<host[:port]>",
        normalise: (written) => written.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, ""),
      }),
      flag: flag("--registry", ["push"]),
      unset: "ECR",
      description: "any OCI registry instead of ECR",
    }),
    tlsVerify: setting({
      kind: boolean(),
      flag: flag("--tls-verify", ["push"]),
      default: true,
      description: "`false` for a registry on plain HTTP or with a self-signed certificate",
    }),
    roleArn: setting({
      // Strict, since it is printed into shell commands the user copies.
      kind: matching(/^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/, "an IAM role ARN such as arn:aws:iam::123456789012:role/sagemaker-execution", {
        placeholder: "<arn>",
        maxLength: 2048,
      }),
      flag: flag("--role-arn", ["push"]),
      unset: "none: the printed commands create one",
      description: "the endpoint's execution role",
    }),
    modelDataUrl: setting({
      // A bucket name as S3 allows it and a key of S3's safe characters, at most 1024 characters as
      // ModelDataUrl allows. Other keys work in S3 but need encoding in places; they are refused
      // rather than printed into shell commands.
      kind: matching(
        /^s3:\/\/(?![^/]*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[\w!.*'()/-]*)?$/,
        "an s3:// URL such as s3://my-bucket/iris/model.tar.gz: a bucket name (lowercase letters, digits, . and -) and a key of letters, digits and ! - _ . * ' ( ) /",
        { placeholder: "<s3 url>", maxLength: 1024 },
      ),
      flag: flag("--model-data", ["push"]),
      unset: "`s3://<bucket>/<path>/model.tar.gz` in the printed commands",
      description: "CreateModel's `ModelDataUrl` (a prefix for multi-model images)",
    }),
    instanceType: setting({
      kind: matching(/^ml\.[a-z0-9-]+\.[a-z0-9]+$/, "a SageMaker instance type such as ml.m5.large", { placeholder: "<type>" }),
      flag: flag("--instance-type", ["push"]),
      unset: "`ml.m5.large` (cpu), `ml.g5.xlarge` (gpu)",
      description: "endpoint instance type",
    }),
    name: setting({
      kind: sagemakerName(),
      flag: flag("--name", ["push"]),
      unset: "`<repository>-<commit-tag>`",
      description: "model, endpoint configuration and endpoint name",
    }),
    pipelineContainers,
    pipelineMode,
    awsAccessKeyId,
    awsSecretAccessKey,
    awsSessionToken: setting({ kind: text("a session token", { secret: true }), env: "AWS_SESSION_TOKEN", description: "AWS session token" }),
    registryUsername,
    registryPassword,
  },
  [together(awsAccessKeyId, awsSecretAccessKey), together(registryUsername, registryPassword), pipelineRule],
);
