import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import {
  deployWarnings,
  deploymentName,
  executionRolePolicy,
  executionRoleTrustPolicy,
  renderDeployHints,
  renderMultiModelHints,
  type DeployHintsInput,
} from "../../src/build/deploy-hints.js";

const input: DeployHintsInput = {
  imageUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-endpoint:1.2.3-4f2c9e1",
  imageRegistry: "ecr",
  region: "eu-west-1",
  accountId: "123456789012",
  repositoryArn: "arn:aws:ecr:eu-west-1:123456789012:repository/iris-endpoint",
  target: "cpu",
  multiModel: false,
  bakedModel: false,
  defaultName: "iris-endpoint-1-2-3-4f2c9e1",
  settings: { roleArn: undefined, modelDataUrl: "s3://models/iris/model.tar.gz", instanceType: undefined, name: undefined },
};

/**
 * The printed AWS CLI commands as a real shell reads them: each `aws` call becomes the list of
 * its arguments (a shell function stands in for the AWS CLI, which is not installed here and
 * could reach no AWS account).
 */
function shellCalls(hints: string): string[][] {
  // After the heading, up to the JavaScript: comments and commands a user may paste as a whole.
  const commands = hints.slice(hints.indexOf("\n"), hints.indexOf("// The same with the AWS SDK"));
  const script = `aws() { printf '%s\\0' "$@"; printf '\\n'; }\n${commands}`;
  return execFileSync("sh", ["-c", script], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\0").slice(0, -1));
}

/** The value after `flag` in the shell call that starts with `subcommand`. */
function argument(calls: string[][], subcommand: string, flag: string): string {
  const call = calls.find((args) => args.slice(0, 2).join(" ") === subcommand);
  assert.ok(call !== undefined, `${subcommand} is printed`);
  const value = call[call.indexOf(flag) + 1];
  assert.ok(call.includes(flag) && value !== undefined, `${subcommand} ${flag}`);
  return value;
}

/** The JSON document passed to `flag` in the printed commands, as the shell hands it to the AWS CLI. */
function policyArgument(hints: string, flag: string): unknown {
  return JSON.parse(argument(shellCalls(hints), flag === "--assume-role-policy-document" ? "iam create-role" : "iam put-role-policy", flag));
}

test("the three SageMaker calls, filled in, with the CLI and the SDK", () => {
  const hints = renderDeployHints(input);
  assert.match(hints, /aws sagemaker create-model --region eu-west-1 --model-name iris-endpoint-1-2-3-4f2c9e1 \\/);
  assert.match(hints, /--execution-role-arn arn:aws:iam::123456789012:role\/sagemaker-byoc-execution/);
  assert.match(hints, /--primary-container Image=123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/iris-endpoint:1\.2\.3-4f2c9e1,ModelDataUrl=s3:\/\/models\/iris\/model\.tar\.gz$/m);
  assert.match(hints, /create-endpoint-config --region eu-west-1 --endpoint-config-name iris-endpoint-1-2-3-4f2c9e1/);
  assert.match(hints, /--production-variants VariantName=AllTraffic,ModelName=iris-endpoint-1-2-3-4f2c9e1,InstanceType=ml\.m5\.large,InitialInstanceCount=1$/m);
  assert.match(hints, /aws sagemaker create-endpoint --region eu-west-1 --endpoint-name iris-endpoint-1-2-3-4f2c9e1 --endpoint-config-name iris-endpoint-1-2-3-4f2c9e1/);
  assert.match(hints, /aws sagemaker wait endpoint-in-service/);
  assert.match(hints, /new CreateModelCommand\(\{ ModelName: "iris-endpoint-1-2-3-4f2c9e1", ExecutionRoleArn: "arn:aws:iam::123456789012:role\/sagemaker-byoc-execution", PrimaryContainer: \{"Image":/);
  assert.match(hints, /new CreateEndpointConfigCommand\(/);
  assert.match(hints, /new CreateEndpointCommand\(\{ EndpointName: "iris-endpoint-1-2-3-4f2c9e1", EndpointConfigName: "iris-endpoint-1-2-3-4f2c9e1" \}\)/);
  assert.doesNotMatch(hints, /ImageConfig|VpcConfig|--vpc-config/, "ECR needs no VPC");
  assert.deepEqual(
    shellCalls(hints).map((args) => args.slice(0, 2).join(" ")),
    ["iam create-role", "iam put-role-policy", "sagemaker create-model", "sagemaker create-endpoint-config", "sagemaker create-endpoint", "sagemaker wait"],
    "every command reads back in a shell",
  );
});

test("values are quoted as a shell reads them back: quotes, brackets and ; reach the AWS CLI as one argument each", () => {
  // S3 keys may hold ' ( ) * and !, which a shell would otherwise take for its own syntax.
  const modelDataUrl = "s3://models/it's (v2)*/model.tar.gz";
  const hostile = { ...input, region: "eu-west-1; echo pwned", settings: { ...input.settings, modelDataUrl } };
  const calls = shellCalls(renderDeployHints(hostile));
  assert.equal(argument(calls, "sagemaker create-model", "--primary-container"), `Image=${input.imageUri},ModelDataUrl=${modelDataUrl}`);
  assert.equal(argument(calls, "sagemaker create-model", "--region"), "eu-west-1; echo pwned", "one argument, never a second command");
  const policy = JSON.parse(argument(calls, "iam put-role-policy", "--policy-document")) as { Statement: { Sid: string; Resource: string }[] };
  assert.equal(policy.Statement.find((statement) => statement.Sid === "ReadModel")?.Resource, "arn:aws:s3:::models/it's (v2)*/model.tar.gz");
  const placeholders = shellCalls(renderDeployHints({ ...input, region: undefined, accountId: undefined }));
  assert.equal(argument(placeholders, "sagemaker create-model", "--region"), "<region>", "placeholders are quoted, not redirections");
});

test("a registry other than ECR: CreateModel pulls through the VPC, the role may reach it and has no ECR permissions", () => {
  const imageUri = "registry.example.com/team/iris-endpoint:1.2.3-4f2c9e1";
  const hints = renderDeployHints({ ...input, imageUri, imageRegistry: "private", accountId: undefined, repositoryArn: undefined });
  assert.match(hints, /SageMaker pulls an image from a registry other than ECR only through your VPC/);
  assert.match(hints, /certificate from a public CA/);
  assert.match(hints, /RepositoryAuthConfig/);
  const calls = shellCalls(hints);
  assert.equal(argument(calls, "sagemaker create-model", "--primary-container"), `Image=${imageUri},ModelDataUrl=s3://models/iris/model.tar.gz,ImageConfig={RepositoryAccessMode=Vpc}`);
  assert.equal(argument(calls, "sagemaker create-model", "--vpc-config"), "SecurityGroupIds=<security-group-id>,Subnets=<subnet-id-1>,<subnet-id-2>");
  assert.match(hints, /PrimaryContainer: \{"Image":"registry\.example\.com\/team\/iris-endpoint:1\.2\.3-4f2c9e1","ModelDataUrl":"s3:\/\/models\/iris\/model\.tar\.gz","ImageConfig":\{"RepositoryAccessMode":"Vpc"\}\}, VpcConfig: \{"SecurityGroupIds":\["<security-group-id>"\],"Subnets":\["<subnet-id-1>","<subnet-id-2>"\]\}/);
  const policy = policyArgument(hints, "--policy-document") as { Statement: { Sid: string; Action: string | string[] }[] };
  assert.deepEqual(
    policy.Statement.map((statement) => statement.Sid),
    ["VpcNetworkInterfaces", "ReadModel", "Logs", "Metrics"],
    "no ECR pull permissions for an image that is not in ECR",
  );
  assert.ok(policy.Statement[0]?.Action.includes("ec2:CreateNetworkInterface"));
  assert.ok(!JSON.stringify(policy).includes("ecr:"));
});

test("--model-data for a baked-in model is reported as ignored; a multi-model image or an S3 model uses it", () => {
  const baked = { ...input, bakedModel: true };
  const [warning, ...others] = deployWarnings(baked);
  assert.match(warning ?? "", /^--model-data s3:\/\/models\/iris\/model\.tar\.gz is ignored: the image has its model baked into \/opt\/ml\/model/);
  assert.deepEqual(others, []);
  assert.deepEqual(deployWarnings({ ...baked, settings: { ...input.settings, modelDataUrl: undefined } }), []);
  assert.deepEqual(deployWarnings({ ...baked, multiModel: true }), []);
  assert.deepEqual(deployWarnings(input), []);
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
  assert.match(renderDeployHints({ ...input, bakedModel: true, multiModel: true }), /ModelDataUrl=s3:\/\/models\/iris\/model\.tar\.gz,Mode=MultiModel$/m);
});

test("a multi-model GPU image: MultiModel mode, a models prefix it may list, a GPU instance", () => {
  const multi = { ...input, target: "gpu" as const, multiModel: true, settings: { ...input.settings, modelDataUrl: undefined } };
  const hints = renderDeployHints(multi);
  assert.match(hints, /ModelDataUrl=s3:\/\/<bucket>\/<models-prefix>\/,Mode=MultiModel'$/m, "quoted for its placeholders");
  assert.match(hints, /InstanceType=ml\.g5\.xlarge/);
  const policy = executionRolePolicy(multi) as { Statement: { Sid: string; Resource: string }[] };
  assert.equal(policy.Statement.find((statement) => statement.Sid === "ReadModel")?.Resource, "arn:aws:s3:::<bucket>/<models-prefix>/*");
  assert.equal(policy.Statement.find((statement) => statement.Sid === "ListModels")?.Resource, "arn:aws:s3:::<bucket>");
});

test("a multi-model image: how to add a model (an archive copied under the prefix) and call it with TargetModel; nothing for a single-model image", () => {
  const multi = { ...input, multiModel: true, settings: { ...input.settings, modelDataUrl: "s3://models/mme" } };
  const hints = renderMultiModelHints(multi);
  const script = `aws() { printf '%s\\0' "$@"; printf '\\n'; }\n${hints.slice(0, hints.indexOf("// With the AWS SDK"))}`;
  const calls = execFileSync("sh", ["-c", script], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\0").slice(0, -1));
  assert.deepEqual(calls[0], ["s3", "cp", "model.tar.gz", "s3://models/mme/iris-v1.tar.gz"], "under the prefix, with one slash");
  assert.deepEqual(calls[1]?.slice(0, 8), ["sagemaker-runtime", "invoke-endpoint", "--region", "eu-west-1", "--endpoint-name", "iris-endpoint-1-2-3-4f2c9e1", "--target-model", "iris-v1.tar.gz"]);
  assert.match(hints, /TargetModel: "iris-v1\.tar\.gz"/);
  assert.equal(renderMultiModelHints(input), "");
});

test("unknowns are marked <...>; names, instance type and partition follow the settings and region", () => {
  const other = renderDeployHints({
    ...input,
    region: undefined,
    accountId: undefined,
    repositoryArn: undefined,
    settings: { roleArn: undefined, modelDataUrl: "s3://bucket-only", instanceType: "ml.c7i.large", name: "iris-prod" },
  });
  assert.match(other, /--region '<region>'/);
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
