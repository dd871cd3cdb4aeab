import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { renderPipelineDeployHints, type DeployHintsInput, type PipelineDeployment } from "../../src/build/deploy-hints.js";
import { loadPushOptions } from "../../src/build/options.js";
import { ConfigurationError } from "../../src/errors.js";

const pushed = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ocr-detection:1.0.0-4f2c9e1";
const other = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ocr-recognition:1.0.0";
const input: DeployHintsInput = {
  imageUri: pushed,
  imageRegistry: "ecr",
  region: "eu-west-1",
  accountId: "123456789012",
  repositoryArn: "arn:aws:ecr:eu-west-1:123456789012:repository/ocr-detection",
  target: "cpu",
  multiModel: false,
  bakedModel: false,
  defaultName: "ocr-detection-1-0-0-4f2c9e1",
  settings: { roleArn: undefined, modelDataUrl: "s3://models/ocr/detection.tar.gz", instanceType: undefined, name: undefined },
};
const serial: PipelineDeployment = {
  mode: "Serial",
  containers: [
    { hostname: "detection", image: undefined },
    { hostname: "recognition", image: other },
  ],
};

/** The printed AWS CLI calls as a real shell reads them back: each becomes the list of its arguments. */
function shellCalls(hints: string): string[][] {
  const commands = hints.slice(hints.indexOf("\n"), hints.indexOf("// The same with the AWS SDK"));
  const script = `aws() { printf '%s\\0' "$@"; printf '\\n'; }\n${commands}`;
  return execFileSync("sh", ["-c", script], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\0").slice(0, -1));
}

function argument(calls: string[][], subcommand: string, flag: string): string {
  const call = calls.find((args) => args.slice(0, 2).join(" ") === subcommand);
  assert.ok(call !== undefined && call.includes(flag), `${subcommand} ${flag} is printed`);
  return call[call.indexOf(flag) + 1] as string;
}

test("a serial pipeline: CreateModel with Containers (hostnames, the pushed image's model) and InferenceExecutionConfig, with the CLI and the SDK", () => {
  const hints = renderPipelineDeployHints(input, serial);
  const calls = shellCalls(hints);
  assert.deepEqual(
    calls.map((args) => args.slice(0, 2).join(" ")),
    ["iam create-role", "iam put-role-policy", "sagemaker create-model", "sagemaker create-endpoint-config", "sagemaker create-endpoint", "sagemaker wait"],
    "every command reads back in a shell",
  );
  const containers = [
    {
      ContainerHostname: "detection",
      Image: pushed,
      ModelDataUrl: "s3://models/ocr/detection.tar.gz",
      Environment: { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "<the media type recognition reads>" },
    },
    { ContainerHostname: "recognition", Image: other },
  ];
  assert.deepEqual(JSON.parse(argument(calls, "sagemaker create-model", "--containers")), containers);
  assert.equal(argument(calls, "sagemaker create-model", "--inference-execution-config"), "Mode=Serial");
  assert.ok(!calls.some((args) => args.includes("--primary-container")), "no PrimaryContainer");
  assert.ok(hints.includes(`Containers: ${JSON.stringify(containers)}, InferenceExecutionConfig: {"Mode":"Serial"} }));`), "the SDK call carries both");
  assert.match(hints, /^Next: deploy it on SageMaker as a serial inference pipeline of 2 containers/);
  const policy = JSON.parse(argument(calls, "iam put-role-policy", "--policy-document")) as { Statement: { Sid: string; Resource: string }[] };
  assert.equal(policy.Statement.find((statement) => statement.Sid === "PullImage")?.Resource, "*", "two repositories: the role pulls from any");
});

test("direct invocation: no hand-over variables, and the hint says a request names its container", () => {
  const sameRepository = `${pushed.replace(/:.*$/, "")}:older`;
  const hints = renderPipelineDeployHints(input, { mode: "Direct", containers: [{ hostname: "a", image: sameRepository }, { hostname: "b", image: undefined }] });
  const calls = shellCalls(hints);
  const containers = JSON.parse(argument(calls, "sagemaker create-model", "--containers")) as Record<string, unknown>[];
  assert.ok(containers.every((container) => !("Environment" in container)));
  assert.equal(argument(calls, "sagemaker create-model", "--inference-execution-config"), "Mode=Direct");
  assert.match(hints, /--target-container-hostname <hostname>/);
  const policy = JSON.parse(argument(calls, "iam put-role-policy", "--policy-document")) as { Statement: { Sid: string; Resource: string }[] };
  assert.equal(policy.Statement.find((statement) => statement.Sid === "PullImage")?.Resource, input.repositoryArn, "one repository: the role pulls from it alone");
});

test("a private registry: the pushed container pulls through the VPC, as for one container; a given role is not created", () => {
  const hints = renderPipelineDeployHints(
    { ...input, imageRegistry: "private", imageUri: "registry.example.com/ocr:1", region: undefined, accountId: undefined, settings: { ...input.settings, roleArn: "arn:aws:iam::123456789012:role/mine" } },
    serial,
  );
  const calls = shellCalls(hints);
  const [first] = JSON.parse(argument(calls, "sagemaker create-model", "--containers")) as Record<string, unknown>[];
  assert.deepEqual(first?.["ImageConfig"], { RepositoryAccessMode: "Vpc" });
  assert.match(argument(calls, "sagemaker create-model", "--vpc-config"), /^SecurityGroupIds=<security-group-id>,Subnets=/);
  assert.equal(argument(calls, "sagemaker create-model", "--execution-role-arn"), "arn:aws:iam::123456789012:role/mine");
  assert.ok(!calls.some((args) => args[0] === "iam"));
});

test("push --pipeline-container and --pipeline-mode: the containers in order, `.` for the pushed image; CreateModel's limits checked", () => {
  const flags = { "pipeline-container": ["detection=.", `recognition=${other}`], "pipeline-mode": "direct" };
  assert.deepEqual(loadPushOptions(flags, {}, "/work/app").deploy.pipeline, {
    mode: "Direct",
    containers: [
      { hostname: "detection", image: undefined },
      { hostname: "recognition", image: other },
    ],
  });
  assert.equal(loadPushOptions({}, {}, "/work/app").deploy.pipeline, undefined, "a single-container model by default");
  const refuses = (values: Record<string, string | string[]>, message: RegExp) =>
    assert.throws(() => loadPushOptions(values, {}, "/work/app"), (error: unknown) => error instanceof ConfigurationError && message.test(error.message));
  refuses({ "pipeline-container": ["detection=."] }, /--pipeline-container is given 1 times; a multi-container model has 2 to 15 containers/);
  refuses({ "pipeline-container": Array.from({ length: 16 }, (_, index) => `c${index}=${index === 0 ? "." : other}`) }, /given 16 times/);
  refuses({ "pipeline-container": ["a=.", "a=x:1"] }, /--pipeline-container names a twice; hostnames must be unique/);
  refuses({ "pipeline-container": ["a=x:1", "b=x:2"] }, /name the image this command pushes as <hostname>=\./);
  refuses({ "pipeline-mode": "Direct" }, /--pipeline-mode \(Direct\) needs --pipeline-container/);
  refuses({ "pipeline-container": ["no hostname", "b=."] }, /--pipeline-container "no hostname" must be <hostname>=<image URI>, or <hostname>=\. for the image this command pushes/);
});
