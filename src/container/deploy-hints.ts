import type { BuildTarget, DeploySettings } from "./options.js";

/**
 * What the deployment commands are filled in with.
 *
 * @example
 * ```ts
 * const input: DeployHintsInput = {
 *   imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-endpoint:1.2.3-4f2c9e1",
 *   region: "eu-west-1", accountId: "123456789012", repositoryArn: undefined,
 *   target: "cpu", multiModel: false, bakedModel: false, defaultName: "iris-endpoint-1-2-3-4f2c9e1",
 *   settings: { roleArn: undefined, modelDataUrl: undefined, instanceType: undefined, name: undefined },
 * };
 * ```
 */
export interface DeployHintsInput {
  readonly imageUri: string;
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
 * The permissions the endpoint's execution role needs and no more: pull this image from ECR,
 * read the model from S3 (unless it is baked in), write logs and metrics.
 *
 * @example
 * ```ts
 * executionRolePolicy({ ...input, settings: { ...input.settings, modelDataUrl: "s3://models/iris/model.tar.gz" } });
 * ```
 */
export function executionRolePolicy(input: DeployHintsInput): object {
  const partition = arnPartition(input.region);
  const statements: object[] = [
    { Sid: "EcrToken", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "PullImage",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
      Resource: input.repositoryArn ?? "*",
    },
  ];
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
 * The next AWS calls after a push, filled in: the execution role (unless `--role-arn` names one),
 * then CreateModel, CreateEndpointConfig and CreateEndpoint, with the AWS CLI and with the AWS SDK
 * for JavaScript. `<...>` marks what only the user knows (the S3 location of the model, the
 * account when the registry is not ECR).
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
  const container: Record<string, string> = { Image: input.imageUri };
  if (readsModelFromS3(input)) container["ModelDataUrl"] = modelDataUrl(input);
  if (input.multiModel) container["Mode"] = "MultiModel";
  const variant = { VariantName: "AllTraffic", ModelName: name, InstanceType: instanceType, InitialInstanceCount: 1 };
  const shorthand = (fields: Record<string, string | number>) => `'${Object.entries(fields).map(([key, value]) => `${key}=${value}`).join(",")}'`;

  const lines: string[] = ["Next: deploy it on SageMaker. The calls, filled in (<...> marks what only you know):", ""];
  if (input.settings.roleArn === undefined) {
    lines.push(
      "  # Once: the execution role SageMaker assumes to pull the image, read the model and write logs.",
      `  aws iam create-role --role-name ${executionRoleName} \\`,
      `    --assume-role-policy-document '${JSON.stringify(executionRoleTrustPolicy)}'`,
      `  aws iam put-role-policy --role-name ${executionRoleName} --policy-name sagemaker-byoc-endpoint \\`,
      `    --policy-document '${JSON.stringify(executionRolePolicy(input))}'`,
      "",
    );
  }
  lines.push(
    `  aws sagemaker create-model --region ${region} --model-name ${name} \\`,
    `    --execution-role-arn ${roleArn} \\`,
    `    --primary-container ${shorthand(container)}`,
    `  aws sagemaker create-endpoint-config --region ${region} --endpoint-config-name ${name} \\`,
    `    --production-variants ${shorthand(variant)}`,
    `  aws sagemaker create-endpoint --region ${region} --endpoint-name ${name} --endpoint-config-name ${name}`,
    `  aws sagemaker wait endpoint-in-service --region ${region} --endpoint-name ${name}`,
    "",
    "  // The same with the AWS SDK for JavaScript (npm install @aws-sdk/client-sagemaker):",
    '  import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";',
    `  const sagemaker = new SageMakerClient({ region: ${JSON.stringify(region)} });`,
    `  await sagemaker.send(new CreateModelCommand({ ModelName: ${JSON.stringify(name)}, ExecutionRoleArn: ${JSON.stringify(roleArn)}, PrimaryContainer: ${JSON.stringify(container)} }));`,
    `  await sagemaker.send(new CreateEndpointConfigCommand({ EndpointConfigName: ${JSON.stringify(name)}, ProductionVariants: [${JSON.stringify(variant)}] }));`,
    `  await sagemaker.send(new CreateEndpointCommand({ EndpointName: ${JSON.stringify(name)}, EndpointConfigName: ${JSON.stringify(name)} }));`,
  );
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
