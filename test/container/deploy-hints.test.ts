import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentName, executionRolePolicy, executionRoleTrustPolicy, renderDeployHints, type DeployHintsInput } from "../../src/container/deploy-hints.js";

const input: DeployHintsInput = {
  imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-endpoint:1.2.3-4f2c9e1",
  region: "eu-west-1",
  accountId: "123456789012",
  repositoryArn: "arn:aws:ecr:eu-west-1:123456789012:repository/iris-endpoint",
  target: "cpu",
  multiModel: false,
  bakedModel: false,
  defaultName: "iris-endpoint-1-2-3-4f2c9e1",
  settings: { roleArn: undefined, modelDataUrl: "s3://models/iris/model.tar.gz", instanceType: undefined, name: undefined },
};

/** The JSON document passed to `flag` in the printed commands. */
function policyArgument(hints: string, flag: string): unknown {
  const match = new RegExp(`${flag} '([^']+)'`).exec(hints);
  assert.ok(match?.[1] !== undefined, `${flag} is printed`);
  return JSON.parse(match[1]);
}

test("the three SageMaker calls, filled in, with the CLI and the SDK", () => {
  const hints = renderDeployHints(input);
  assert.match(hints, /aws sagemaker create-model --region eu-west-1 --model-name iris-endpoint-1-2-3-4f2c9e1 \\/);
  assert.match(hints, /--execution-role-arn arn:aws:iam::123456789012:role\/sagemaker-byoc-execution/);
  assert.match(hints, /--primary-container 'Image=123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/iris-endpoint:1\.2\.3-4f2c9e1,ModelDataUrl=s3:\/\/models\/iris\/model\.tar\.gz'/);
  assert.match(hints, /create-endpoint-config --region eu-west-1 --endpoint-config-name iris-endpoint-1-2-3-4f2c9e1/);
  assert.match(hints, /'VariantName=AllTraffic,ModelName=iris-endpoint-1-2-3-4f2c9e1,InstanceType=ml\.m5\.large,InitialInstanceCount=1'/);
  assert.match(hints, /aws sagemaker create-endpoint --region eu-west-1 --endpoint-name iris-endpoint-1-2-3-4f2c9e1 --endpoint-config-name iris-endpoint-1-2-3-4f2c9e1/);
  assert.match(hints, /aws sagemaker wait endpoint-in-service/);
  assert.match(hints, /new CreateModelCommand\(\{ ModelName: "iris-endpoint-1-2-3-4f2c9e1", ExecutionRoleArn: "arn:aws:iam::123456789012:role\/sagemaker-byoc-execution", PrimaryContainer: \{"Image":/);
  assert.match(hints, /new CreateEndpointConfigCommand\(/);
  assert.match(hints, /new CreateEndpointCommand\(\{ EndpointName: "iris-endpoint-1-2-3-4f2c9e1", EndpointConfigName: "iris-endpoint-1-2-3-4f2c9e1" \}\)/);
});

test("without --role-arn the role is created: SageMaker may assume it, it may pull this image and read this model", () => {
  const hints = renderDeployHints(input);
  assert.deepEqual(policyArgument(hints, "--assume-role-policy-document"), executionRoleTrustPolicy);
  const policy = policyArgument(hints, "--policy-document") as { Statement: { Sid: string; Action: string | string[]; Resource: string }[] };
  const bySid = Object.fromEntries(policy.Statement.map((statement) => [statement.Sid, statement]));
  assert.equal(bySid["PullImage"]?.Resource, input.repositoryArn);
  assert.deepEqual(bySid["PullImage"]?.Action, ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]);
  assert.equal(bySid["EcrToken"]?.Action, "ecr:GetAuthorizationToken");
  assert.equal(bySid["ReadModel"]?.Resource, "arn:aws:s3:::models/iris/model.tar.gz");
  assert.equal(bySid["ListModels"], undefined);
  assert.match(bySid["Logs"]?.Resource ?? "", /log-group:\/aws\/sagemaker\/\*/);
  const given = renderDeployHints({ ...input, settings: { ...input.settings, roleArn: "arn:aws:iam::123456789012:role/existing" } });
  assert.doesNotMatch(given, /aws iam create-role/);
  assert.match(given, /--execution-role-arn arn:aws:iam::123456789012:role\/existing/);
});

test("a baked-in model: no ModelDataUrl and no S3 permission, unless the endpoint is multi-model", () => {
  const hints = renderDeployHints({ ...input, bakedModel: true });
  assert.doesNotMatch(hints, /ModelDataUrl/);
  const policy = executionRolePolicy({ ...input, bakedModel: true }) as { Statement: { Sid: string }[] };
  assert.ok(!policy.Statement.some((statement) => statement.Sid === "ReadModel"));
  assert.match(renderDeployHints({ ...input, bakedModel: true, multiModel: true }), /ModelDataUrl=s3:\/\/models\/iris\/model\.tar\.gz,Mode=MultiModel/);
});

test("a multi-model GPU image: MultiModel mode, a models prefix it may list, a GPU instance", () => {
  const multi = { ...input, target: "gpu" as const, multiModel: true, settings: { ...input.settings, modelDataUrl: undefined } };
  const hints = renderDeployHints(multi);
  assert.match(hints, /ModelDataUrl=s3:\/\/<bucket>\/<models-prefix>\/,Mode=MultiModel'/);
  assert.match(hints, /InstanceType=ml\.g5\.xlarge/);
  const policy = executionRolePolicy(multi) as { Statement: { Sid: string; Resource: string }[] };
  assert.equal(policy.Statement.find((statement) => statement.Sid === "ReadModel")?.Resource, "arn:aws:s3:::<bucket>/<models-prefix>/*");
  assert.equal(policy.Statement.find((statement) => statement.Sid === "ListModels")?.Resource, "arn:aws:s3:::<bucket>");
});

test("unknowns are marked <...>; names, instance type and partition follow the settings and region", () => {
  const other = renderDeployHints({
    ...input,
    region: undefined,
    accountId: undefined,
    repositoryArn: undefined,
    settings: { roleArn: undefined, modelDataUrl: "s3://bucket-only", instanceType: "ml.c7i.large", name: "iris-prod" },
  });
  assert.match(other, /--region <region>/);
  assert.match(other, /arn:aws:iam::<account-id>:role\/sagemaker-byoc-execution/);
  assert.match(other, /--model-name iris-prod/);
  assert.match(other, /InstanceType=ml\.c7i\.large/);
  assert.match(other, /"Resource":"\*"/, "any repository when the registry is not ECR");
  assert.match(renderDeployHints({ ...input, region: "cn-north-1" }), /arn:aws-cn:iam::/);
  assert.match(renderDeployHints({ ...input, region: "us-gov-west-1" }), /arn:aws-us-gov:s3:::/);
});

test("deployment names: letters, digits and hyphens, at most 63", () => {
  assert.equal(deploymentName("acme/iris-endpoint", "1.2.3-4f2c9e1"), "acme-iris-endpoint-1-2-3-4f2c9e1");
  const long = deploymentName("a".repeat(60), "1.2.3");
  assert.ok(long.length <= 63 && !long.endsWith("-"));
});
