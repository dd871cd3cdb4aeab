import { shellQuote } from "./command-runner.js";
import type { BuildTarget, DeploySettings } from "./options.js";

/** A request structure as the AWS CLI's shorthand and the SDK take it. */
type Structure = { [field: string]: string | number | readonly string[] | Structure };

/**
 * What the deployment commands are filled in with.
 *
 * @example
 * ```ts
 * const input: DeployHintsInput = {
 *   imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-endpoint:1.2.3-4f2c9e1", imageRegistry: "ecr",
 *   region: "eu-west-1", accountId: "123456789012", repositoryArn: undefined,
 *   target: "cpu", multiModel: false, bakedModel: false, defaultName: "iris-endpoint-1-2-3-4f2c9e1",
 *   settings: { roleArn: undefined, modelDataUrl: undefined, instanceType: undefined, name: undefined },
 * };
 * ```
 */
export interface DeployHintsInput {
  readonly imageUri: string;
  /**
   * `ecr`, or `private` for any other registry (`push --registry`): SageMaker pulls those only
   * through the model's VPC (CreateModel's `ImageConfig.RepositoryAccessMode=Vpc` and `VpcConfig`).
   */
  readonly imageRegistry: "ecr" | "private";
  /** The region, or `undefined` when not known (a registry other than ECR). */
  readonly region: string | undefined;
  readonly accountId: string | undefined;
  /** The ECR repository the role may pull from; `undefined` allows any. */
  readonly repositoryArn: string | undefined;
  readonly target: BuildTarget;
  readonly multiModel: boolean;
  /** True when the model is in the image: no `ModelDataUrl` and no S3 permission (unless multi-model). */
  readonly bakedModel: boolean;
  /** Name of the model, endpoint configuration and endpoint unless `settings.name` is set. */
  readonly defaultName: string;
  readonly settings: DeploySettings;
}

/** The role the printed commands create when no `--role-arn` is given. */
export const executionRoleName = "sagemaker-byoc-execution";

/**
 * The trust policy of a SageMaker execution role: SageMaker may assume it.
 *
 * @example
 * ```ts
 * JSON.stringify(executionRoleTrustPolicy);
 * ```
 */
export const executionRoleTrustPolicy = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "sagemaker.amazonaws.com" }, Action: "sts:AssumeRole" }],
} as const;

/**
 * What SageMaker needs to attach the model's containers to a VPC (its network interfaces), as the
 * developer guide's "CreateModel API: execution role permissions" lists them for `VpcConfig`.
 */
const vpcActions = [
  "ec2:CreateNetworkInterface",
  "ec2:CreateNetworkInterfacePermission",
  "ec2:DeleteNetworkInterface",
  "ec2:DeleteNetworkInterfacePermission",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeVpcs",
  "ec2:DescribeDhcpOptions",
  "ec2:DescribeSubnets",
  "ec2:DescribeSecurityGroups",
];

/**
 * The permissions the endpoint's execution role needs and no more: pull this image from ECR (or,
 * for another registry, reach it through the VPC), read the model from S3 (unless it is baked
 * in), write logs and metrics.
 *
 * @example
 * ```ts
 * executionRolePolicy({ ...input, settings: { ...input.settings, modelDataUrl: "s3://models/iris/model.tar.gz" } });
 * ```
 */
export function executionRolePolicy(input: DeployHintsInput): object {
  const partition = arnPartition(input.region);
  const statements: object[] =
    input.imageRegistry === "ecr"
      ? [
          { Sid: "EcrToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
          {
            Sid: "PullImage",
            Effect: "Allow",
            Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            Resource: input.repositoryArn ?? "*",
          },
        ]
      : [{ Sid: "VpcNetworkInterfaces", Effect: "Allow", Action: vpcActions, Resource: "*" }];
  if (readsModelFromS3(input)) {
    const { bucket, key } = s3Location(modelDataUrl(input));
    statements.push({ Sid: "ReadModel", Effect: "Allow", Action: "s3:GetObject", Resource: `arn:${partition}:s3:::${bucket}/${key}${input.multiModel ? "*" : ""}` });
    if (input.multiModel) statements.push({ Sid: "ListModels", Effect: "Allow", Action: "s3:ListBucket", Resource: `arn:${partition}:s3:::${bucket}` });
  }
  statements.push(
    {
      Sid: "Logs",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
      Resource: `arn:${partition}:logs:*:*:log-group:/aws/sagemaker/*`,
    },
    { Sid: "Metrics", Effect: "Allow", Action: "cloudwatch:PutMetricData", Resource: "*" },
  );
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * Settings the image makes pointless, one sentence each for `push` to print as warnings: a
 * `--model-data` for an image with its model baked in is not used (CreateModel gets no
 * `ModelDataUrl`; a multi-model image still uses it).
 *
 * @example
 * ```ts
 * deployWarnings({ ...input, bakedModel: true, settings: { ...input.settings, modelDataUrl: "s3://models/iris.tar.gz" } });
 * // ["--model-data s3://models/iris.tar.gz is ignored: ..."]
 * ```
 */
export function deployWarnings(input: DeployHintsInput): string[] {
  const { modelDataUrl: given } = input.settings;
  if (given === undefined || readsModelFromS3(input)) return [];
  return [
    `--model-data ${given} is ignored: the image has its model baked into /opt/ml/model, so CreateModel gets no ModelDataUrl. ` +
      "Build without --model to have SageMaker place the model from S3.",
  ];
}

/**
 * The next AWS calls after a push, filled in: the execution role (unless `--role-arn` names one),
 * then CreateModel, CreateEndpointConfig and CreateEndpoint, with the AWS CLI and with the AWS SDK
 * for JavaScript. `<...>` marks what only the user knows (the S3 location of the model, the
 * account when the registry is not ECR, the VPC's subnets and security group). Every value in
 * the shell commands is quoted as a POSIX shell reads it back ({@link shellQuote}).
 *
 * @example
 * ```ts
 * console.log(renderDeployHints(input));
 * ```
 */
export function renderDeployHints(input: DeployHintsInput): string {
  const name = input.settings.name ?? input.defaultName;
  const region = input.region ?? "<region>";
  const roleArn = input.settings.roleArn ?? `arn:${arnPartition(input.region)}:iam::${input.accountId ?? "<account-id>"}:role/${executionRoleName}`;
  const instanceType = input.settings.instanceType ?? (input.target === "gpu" ? "ml.g5.xlarge" : "ml.m5.large");
  const throughVpc = input.imageRegistry === "private";
  const container: Structure = { Image: input.imageUri };
  if (readsModelFromS3(input)) container["ModelDataUrl"] = modelDataUrl(input);
  if (input.multiModel) container["Mode"] = "MultiModel";
  if (throughVpc) container["ImageConfig"] = { RepositoryAccessMode: "Vpc" };
  const vpcConfig = { SecurityGroupIds: ["<security-group-id>"], Subnets: ["<subnet-id-1>", "<subnet-id-2>"] };
  const variant = { VariantName: "AllTraffic", ModelName: name, InstanceType: instanceType, InitialInstanceCount: 1 };
  const q = shellQuote;

  const lines: string[] = ["Next: deploy it on SageMaker. The calls, filled in (<...> marks what only you know):", ""];
  if (throughVpc) {
    lines.push(
      "  # SageMaker pulls an image from a registry other than ECR only through your VPC: CreateModel carries",
      "  # ImageConfig RepositoryAccessMode=Vpc and a VpcConfig whose subnets (two availability zones) reach the",
      "  # registry and whose security group the registry lets in. The registry must serve HTTPS with a",
      "  # certificate from a public CA; one that needs a login takes ImageConfig.RepositoryAuthConfig with a",
      "  # Lambda function that returns the credentials (RepositoryCredentialsProviderArn). ECR needs none of this.",
      "",
    );
  }
  if (input.settings.roleArn === undefined) {
    lines.push(
      `  # Once: the execution role SageMaker assumes to pull the image${throughVpc ? " through the VPC" : ""}, read the model and write logs.`,
      `  aws iam create-role --role-name ${executionRoleName} \\`,
      `    --assume-role-policy-document ${q(JSON.stringify(executionRoleTrustPolicy))}`,
      `  aws iam put-role-policy --role-name ${executionRoleName} --policy-name sagemaker-byoc-endpoint \\`,
      `    --policy-document ${q(JSON.stringify(executionRolePolicy(input)))}`,
      "",
    );
  }
  lines.push(
    `  aws sagemaker create-model --region ${q(region)} --model-name ${q(name)} \\`,
    `    --execution-role-arn ${q(roleArn)} \\`,
    `    --primary-container ${q(shorthand(container))}${throughVpc ? " \\" : ""}`,
    ...(throughVpc ? [`    --vpc-config ${q(shorthand(vpcConfig))}`] : []),
    `  aws sagemaker create-endpoint-config --region ${q(region)} --endpoint-config-name ${q(name)} \\`,
    `    --production-variants ${q(shorthand(variant))}`,
    `  aws sagemaker create-endpoint --region ${q(region)} --endpoint-name ${q(name)} --endpoint-config-name ${q(name)}`,
    `  aws sagemaker wait endpoint-in-service --region ${q(region)} --endpoint-name ${q(name)}`,
    "",
    "  // The same with the AWS SDK for JavaScript (npm install @aws-sdk/client-sagemaker):",
    '  import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";',
    `  const sagemaker = new SageMakerClient({ region: ${JSON.stringify(region)} });`,
    `  await sagemaker.send(new CreateModelCommand({ ModelName: ${JSON.stringify(name)}, ExecutionRoleArn: ${JSON.stringify(roleArn)}, PrimaryContainer: ${JSON.stringify(container)}${throughVpc ? `, VpcConfig: ${JSON.stringify(vpcConfig)}` : ""} }));`,
    `  await sagemaker.send(new CreateEndpointConfigCommand({ EndpointConfigName: ${JSON.stringify(name)}, ProductionVariants: [${JSON.stringify(variant)}] }));`,
    `  await sagemaker.send(new CreateEndpointCommand({ EndpointName: ${JSON.stringify(name)}, EndpointConfigName: ${JSON.stringify(name)} }));`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * A multi-container model (docs/pipelines.md): how its containers run and which they are, in
 * order; `image: undefined` is the image `push` pushed.
 *
 * @example
 * ```ts
 * const pipeline: PipelineDeployment = {
 *   mode: "Serial",
 *   containers: [{ hostname: "detection", image: undefined }, { hostname: "recognition", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ocr-recognition:1.0.0" }],
 * };
 * ```
 */
export interface PipelineDeployment {
  readonly mode: "Serial" | "Direct";
  readonly containers: readonly { readonly hostname: string; readonly image: string | undefined }[];
}

/**
 * The deployment calls for a multi-container model the pushed image is part of: as
 * {@link renderDeployHints}, but CreateModel takes `Containers` (each with its
 * `ContainerHostname`) and `InferenceExecutionConfig` instead of `PrimaryContainer`. In `Serial`
 * mode every container but the last gets `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`, the type it
 * hands to the next one (left for the user to fill in); in `Direct` mode the invocation names
 * its container. The role may pull from any ECR repository when the images live in several.
 *
 * @example
 * ```ts
 * console.log(renderPipelineDeployHints(input, { mode: "Serial", containers: [{ hostname: "pre", image: undefined }, { hostname: "model", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:1" }] }));
 * ```
 */
export function renderPipelineDeployHints(input: DeployHintsInput, pipeline: PipelineDeployment): string {
  const name = input.settings.name ?? input.defaultName;
  const region = input.region ?? "<region>";
  const roleArn = input.settings.roleArn ?? `arn:${arnPartition(input.region)}:iam::${input.accountId ?? "<account-id>"}:role/${executionRoleName}`;
  const instanceType = input.settings.instanceType ?? (input.target === "gpu" ? "ml.g5.xlarge" : "ml.m5.large");
  const throughVpc = input.imageRegistry === "private";
  const repository = (uri: string): string => uri.replace(/[:@][^/]*$/, "");
  const oneRepository = pipeline.containers.every(({ image }) => image === undefined || repository(image) === repository(input.imageUri));
  const serial = pipeline.mode === "Serial";
  const containers = pipeline.containers.map(({ hostname, image }, index) => {
    const container: Structure = { ContainerHostname: hostname, Image: image ?? input.imageUri };
    if (image === undefined && readsModelFromS3(input)) container["ModelDataUrl"] = modelDataUrl(input);
    if (image === undefined && throughVpc) container["ImageConfig"] = { RepositoryAccessMode: "Vpc" };
    const next = pipeline.containers[index + 1];
    if (serial && next !== undefined) container["Environment"] = { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: `<the media type ${next.hostname} reads>` };
    return container;
  });
  const executionConfig = { Mode: pipeline.mode };
  const vpcConfig = { SecurityGroupIds: ["<security-group-id>"], Subnets: ["<subnet-id-1>", "<subnet-id-2>"] };
  const variant = { VariantName: "AllTraffic", ModelName: name, InstanceType: instanceType, InitialInstanceCount: 1 };
  const roleInput = oneRepository ? input : { ...input, repositoryArn: undefined };
  const q = shellQuote;
  const shape = serial
    ? `a serial inference pipeline of ${containers.length} containers: each container's answer is the next one's request, the last one answers`
    : `a multi-container endpoint of ${containers.length} containers invoked one at a time (direct invocation)`;

  const lines: string[] = [`Next: deploy it on SageMaker as ${shape}. The calls, filled in (<...> marks what only you know):`, ""];
  if (input.settings.roleArn === undefined) {
    lines.push(
      `  # Once: the execution role SageMaker assumes to pull the images, read the model and write logs${oneRepository ? "" : " (from any ECR repository: the images live in several)"}.`,
      `  aws iam create-role --role-name ${executionRoleName} \\`,
      `    --assume-role-policy-document ${q(JSON.stringify(executionRoleTrustPolicy))}`,
      `  aws iam put-role-policy --role-name ${executionRoleName} --policy-name sagemaker-byoc-endpoint \\`,
      `    --policy-document ${q(JSON.stringify(executionRolePolicy(roleInput)))}`,
      "",
    );
  }
  lines.push(
    serial
      ? "  # Each container but the last answers in its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: the type the next one reads (docs/pipelines.md)."
      : "  # Each request names its container: invoke-endpoint --target-container-hostname <hostname> (docs/pipelines.md).",
    "  # A container whose image does not hold its model needs a ModelDataUrl.",
    `  aws sagemaker create-model --region ${q(region)} --model-name ${q(name)} \\`,
    `    --execution-role-arn ${q(roleArn)} \\`,
    `    --containers ${q(JSON.stringify(containers))} \\`,
    `    --inference-execution-config ${q(`Mode=${pipeline.mode}`)}${throughVpc ? " \\" : ""}`,
    ...(throughVpc ? [`    --vpc-config ${q(shorthand(vpcConfig))}`] : []),
    `  aws sagemaker create-endpoint-config --region ${q(region)} --endpoint-config-name ${q(name)} \\`,
    `    --production-variants ${q(shorthand(variant))}`,
    `  aws sagemaker create-endpoint --region ${q(region)} --endpoint-name ${q(name)} --endpoint-config-name ${q(name)}`,
    `  aws sagemaker wait endpoint-in-service --region ${q(region)} --endpoint-name ${q(name)}`,
    "",
    "  // The same with the AWS SDK for JavaScript (npm install @aws-sdk/client-sagemaker):",
    '  import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";',
    `  const sagemaker = new SageMakerClient({ region: ${JSON.stringify(region)} });`,
    `  await sagemaker.send(new CreateModelCommand({ ModelName: ${JSON.stringify(name)}, ExecutionRoleArn: ${JSON.stringify(roleArn)}, Containers: ${JSON.stringify(containers)}, InferenceExecutionConfig: ${JSON.stringify(executionConfig)}${throughVpc ? `, VpcConfig: ${JSON.stringify(vpcConfig)}` : ""} }));`,
    `  await sagemaker.send(new CreateEndpointConfigCommand({ EndpointConfigName: ${JSON.stringify(name)}, ProductionVariants: [${JSON.stringify(variant)}] }));`,
    `  await sagemaker.send(new CreateEndpointCommand({ EndpointName: ${JSON.stringify(name)}, EndpointConfigName: ${JSON.stringify(name)} }));`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * For a multi-model image: how models are added and called once the endpoint runs. Models are
 * archives under the `ModelDataUrl` prefix; adding one is copying its archive there, and the first
 * `InvokeEndpoint` naming it in `TargetModel` loads it (docs/multi-model.md). Empty for a
 * single-model image.
 *
 * @example
 * ```ts
 * console.log(renderDeployHints(input) + renderMultiModelHints(input));
 * ```
 */
export function renderMultiModelHints(input: DeployHintsInput): string {
  if (!input.multiModel) return "";
  const name = input.settings.name ?? input.defaultName;
  const region = input.region ?? "<region>";
  const prefix = modelDataUrl(input).replace(/\/*$/, "/");
  const q = shellQuote;
  const lines = [
    "",
    "  # Then add models: copy each archive (a model.tar.gz with the model's files, and code/ for handlers of",
    "  # its own, at its root) under the ModelDataUrl prefix, and name it in TargetModel. The first call for a",
    "  # model loads it (slow); later calls are fast while it stays loaded. To change a model, upload it under a",
    "  # new name (iris-v2.tar.gz) rather than over the old one, which an instance may have cached.",
    `  aws s3 cp model.tar.gz ${q(`${prefix}iris-v1.tar.gz`)}`,
    `  aws sagemaker-runtime invoke-endpoint --region ${q(region)} --endpoint-name ${q(name)} \\`,
    "    --target-model iris-v1.tar.gz --content-type application/json --body fileb://payload.json answer.json",
    "",
    '  // With the AWS SDK for JavaScript (npm install @aws-sdk/client-sagemaker-runtime):',
    '  import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";',
    `  const runtime = new SageMakerRuntimeClient({ region: ${JSON.stringify(region)} });`,
    `  await runtime.send(new InvokeEndpointCommand({ EndpointName: ${JSON.stringify(name)}, TargetModel: "iris-v1.tar.gz", ContentType: "application/json", Body: payload }));`,
    "",
    "  # The same flow locally, S3 included: sagemaker-byoc gateway --model-data-url <prefix> (docs/multi-model.md).",
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * A SageMaker resource name from a repository and tag: letters, digits and hyphens, at most 63.
 *
 * @example
 * ```ts
 * deploymentName("acme/iris-endpoint", "1.2.3-4f2c9e1"); // "acme-iris-endpoint-1-2-3-4f2c9e1"
 * ```
 */
export function deploymentName(repository: string, tag: string): string {
  return `${repository}-${tag}`
    .replace(/[^a-zA-Z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
}

/**
 * A structure in the AWS CLI's shorthand syntax: `Key=value,List=a,b,Nested={Key=value}`. The
 * values printed here never hold the shorthand's own separators (the S3 URL and image reference
 * are validated), so nothing needs escaping for the CLI; the shell quoting is done by the caller.
 */
function shorthand(fields: Structure): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === "object" ? (Array.isArray(value) ? value.join(",") : `{${shorthand(value as Structure)}}`) : value}`)
    .join(",");
}

/** A multi-model endpoint always loads its models from S3, whatever the image holds. */
function readsModelFromS3(input: DeployHintsInput): boolean {
  return input.multiModel || !input.bakedModel;
}

function modelDataUrl(input: DeployHintsInput): string {
  return input.settings.modelDataUrl ?? (input.multiModel ? "s3://<bucket>/<models-prefix>/" : "s3://<bucket>/<path>/model.tar.gz");
}

function s3Location(url: string): { bucket: string; key: string } {
  const path = url.slice("s3://".length);
  const slash = path.indexOf("/");
  return slash < 0 ? { bucket: path, key: "" } : { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

function arnPartition(region: string | undefined): string {
  if (region?.startsWith("cn-") === true) return "aws-cn";
  if (region?.startsWith("us-gov-") === true) return "aws-us-gov";
  return "aws";
}

/**
 * What the Vertex AI commands are filled in with.
 *
 * @example
 * ```ts
 * const input: VertexHintsInput = { image: "iris-endpoint:1.2.3", bakedModel: true, target: "cpu" };
 * ```
 */
export interface VertexHintsInput {
  /** The image as `build` tagged it, `name:tag`. */
  readonly image: string;
  /** True when the model is in the image, as Vertex AI needs it (docs/vertex.md). */
  readonly bakedModel: boolean;
  readonly target: BuildTarget;
}

/**
 * The commands that deploy a built image on Vertex AI (docs/vertex.md), filled in; `<...>` marks
 * what only the user knows. The image goes to Artifact Registry, then `gcloud ai models upload`
 * with `--container-args=serve` (the entrypoint serves only when given `serve`), port 8080 and the
 * health and predict routes the server then reads from `AIP_HEALTH_ROUTE` and `AIP_PREDICT_ROUTE`,
 * then an endpoint and the deployment. An image without its model gets a warning first: Vertex AI
 * would pass the artifacts only as a `gs://` URI, which the server does not read.
 *
 * @example
 * ```ts
 * console.error(renderVertexHints({ image: "iris-endpoint:1.2.3", bakedModel: true, target: "cpu" }));
 * ```
 */
export function renderVertexHints(input: VertexHintsInput): string {
  const slash = input.image.lastIndexOf("/");
  const nameAndTag = input.image.slice(slash + 1);
  const colon = nameAndTag.lastIndexOf(":");
  const displayName = colon > 0 ? nameAndTag.slice(0, colon) : nameAndTag;
  const remote = `<region>-docker.pkg.dev/<project>/<repository>/${nameAndTag}`;
  const machine = input.target === "gpu" ? ["--machine-type=n1-standard-4", "--accelerator=count=1,type=nvidia-tesla-t4"] : ["--machine-type=n1-standard-2"];
  /** One command, each word quoted as a POSIX shell reads it back, continued over lines at `|`. */
  const command = (...words: string[]): string =>
    `  ${words.map((word) => (word === "|" ? "\\\n   " : shellQuote(word))).join(" ")}`;
  const lines = ["Next: deploy it on Vertex AI. The commands, filled in (<...> marks what only you know):", ""];
  if (!input.bakedModel) {
    lines.push(
      "  # Warning: this image holds no model. Vertex AI passes a model's artifacts to the container only as a",
      "  # gs:// URI (AIP_STORAGE_URI), which the server does not read: build with --model to bake it in (docs/vertex.md).",
      "",
    );
  }
  lines.push(
    "  # Once: an Artifact Registry repository for images, and docker's credentials for it.",
    command("gcloud", "artifacts", "repositories", "create", "<repository>", "--repository-format=docker", "--location=<region>"),
    command("gcloud", "auth", "configure-docker", "<region>-docker.pkg.dev"),
    "",
    command("docker", "tag", input.image, remote),
    command("docker", "push", remote),
    command("gcloud", "ai", "models", "upload", "--region=<region>", `--display-name=${displayName}`, "|", `--container-image-uri=${remote}`, "|",
      "--container-args=serve", "--container-ports=8080", "--container-health-route=/health", "--container-predict-route=/predict"),
    command("gcloud", "ai", "endpoints", "create", "--region=<region>", `--display-name=${displayName}`),
    "  # The ids come from the commands above (or gcloud ai models list, gcloud ai endpoints list).",
    command("gcloud", "ai", "endpoints", "deploy-model", "<endpoint-id>", "--region=<region>", "--model=<model-id>", `--display-name=${displayName}`, "|",
      ...machine, "--traffic-split=0=100"),
    "",
    "  # A prediction:",
    '  curl -X POST -H "Authorization: Bearer $(gcloud auth print-access-token)" -H "Content-Type: application/json" \\',
    "    'https://<region>-aiplatform.googleapis.com/v1/projects/<project>/locations/<region>/endpoints/<endpoint-id>:predict' \\",
    `    -d '{"instances": [...], "parameters": {}}'`,
  );
  return `${lines.join("\n")}\n`;
}
