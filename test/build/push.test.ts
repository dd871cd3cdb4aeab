import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { BuildahEngine } from "../../src/build/buildah-engine.js";
import { ContainerError, RegistryLoginError } from "../../src/build/errors.js";
import { loadPushOptions, type PushFlags } from "../../src/build/options.js";
import { pushImage } from "../../src/build/push.js";
import { startEcrStandIn, type EcrStandIn } from "./helpers/ecr-stand-in.js";
import { collectingRunner, toolEnv } from "./helpers/project.js";
import { startRegistry, type LocalRegistry } from "./helpers/registry.js";

// A real registry (docker-registry) and real buildah pushes; the ECR API alone is the local
// stand-in (helpers/ecr-stand-in.ts), whose token logs in to that registry. buildah keeps these
// tests' images in a storage of their own, removed afterwards, away from the image test's builds.
const root = await mkdtemp(join(tmpdir(), "byoc-push-"));
const storageConf = join(root, "storage.conf");
await writeFile(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(root, "storage")}"\nrunroot = "${join(root, "run")}"\n`);
const env = { ...toolEnv, CONTAINERS_STORAGE_CONF: storageConf };
const suffix = `${process.pid}`;
const labelled = `localhost/byoc-push-test:${suffix}`;
const unlabelled = `localhost/byoc-push-unlabelled:${suffix}`;
const fromProject = `localhost/acme/push-me:0.0.${suffix}`;
const baked = `localhost/byoc-push-baked:${suffix}`;
const run = promisify(execFile);
const awsEnv = { AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: "test-secret" };
const manifestTypes = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

let registry: LocalRegistry;
let ecr: EcrStandIn;

/** A tiny image (FROM scratch, one file) with the given labels, built by the engine under test. */
async function buildTinyImage(name: string, labels: Record<string, string>): Promise<void> {
  const context = join(root, name.replace(/[^a-z0-9]/g, "-"));
  await mkdir(context, { recursive: true });
  await writeFile(join(context, "hello.txt"), `hello from ${name}\n`);
  const labelLine = Object.keys(labels).length === 0 ? "" : `LABEL ${Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(" ")}\n`;
  await writeFile(join(context, "Dockerfile"), `FROM scratch\n${labelLine}COPY hello.txt /hello.txt\n`);
  await new BuildahEngine(collectingRunner(env).runner).build({ contextDir: context, tags: [name], buildArgs: {} });
}

before(async () => {
  registry = await startRegistry();
  ecr = await startEcrStandIn({ registry: registry.host, password: registry.password });
  await buildTinyImage(labelled, {
    "org.opencontainers.image.version": "1.2.3",
    "org.opencontainers.image.revision": "abc1234",
    "sagemaker-byoc-node.model": "baked",
    "sagemaker-byoc-node.target": "gpu",
    "com.amazonaws.sagemaker.capabilities.multi-models": "true",
  });
  await buildTinyImage(unlabelled, {});
  await buildTinyImage(fromProject, { "org.opencontainers.image.version": `0.0.${suffix}` });
  await buildTinyImage(baked, { "org.opencontainers.image.version": "2.0.0", "sagemaker-byoc-node.model": "baked" });
});

after(async () => {
  await ecr.close();
  await registry.stop();
  await run("buildah", ["rmi", "--all", "--force"], { env });
  await rm(root, { recursive: true, force: true });
});

function options(flags: PushFlags, settings: Record<string, string> = awsEnv) {
  return loadPushOptions({ engine: "buildah", region: "us-east-1", "ecr-endpoint": ecr.url, "tls-verify": "false", ...flags }, settings, root);
}

test("push to ECR: repository created, login from the token, version and commit tags, manifest in the registry", async () => {
  const { runner, lines } = collectingRunner(env);
  const result = await pushImage(options({ image: labelled, repository: "byoc/push-test", "model-data": "s3://models/" }), runner);
  assert.equal(result.repositoryCreated, true);
  assert.deepEqual(result.imageUris, [`${registry.host}/byoc/push-test:1.2.3`, `${registry.host}/byoc/push-test:1.2.3-abc1234`]);
  assert.match(result.digest ?? "", /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(
    ecr.calls.map((call) => call.operation),
    ["DescribeRepositories", "CreateRepository", "GetAuthorizationToken"],
  );
  for (const tag of ["1.2.3", "1.2.3-abc1234"]) {
    const response = await registry.get(`/v2/byoc/push-test/manifests/${tag}`, manifestTypes);
    assert.equal(response.status, 200, tag);
    assert.equal(response.headers.get("docker-content-digest"), result.digest, "both tags name the pushed manifest");
  }
  assert.match(result.hints, new RegExp(`Image=${registry.host}/byoc/push-test:1\\.2\\.3-abc1234,ModelDataUrl=s3://models/,Mode=MultiModel`));
  assert.match(result.hints, /InstanceType=ml\.g5\.xlarge/, "the GPU label picks a GPU instance");
  assert.match(result.hints, /arn:aws:iam::123456789012:role\/sagemaker-byoc-execution/, "the account from ECR");
  assert.ok(lines.includes("engine: buildah (--engine buildah)"));
  assert.ok(lines.some((line) => line.startsWith(`$ buildah login --authfile `) && line.endsWith(`--username AWS --password-stdin --tls-verify=false ${registry.host}`)));
  assert.ok(!lines.join("\n").includes(registry.password), "the password is never printed");
  assert.ok(lines.some((line) => line.startsWith(`pushed: ${registry.host}/byoc/push-test:1.2.3, `)));
  const validUntil = lines.map((line) => /^ {4}login valid until (\S+)$/.exec(line)?.[1]).find((found) => found !== undefined);
  assert.ok(validUntil !== undefined && Date.parse(validUntil) > Date.now() + 11 * 3600_000, "the token's expiry, as ECR gave it");
  assert.ok(!lines.some((line) => line.startsWith("warning:")), "a multi-model image uses --model-data, baked model or not");
  assert.match(result.hints, /"Sid":"PullImage".*"Resource":"arn:aws:ecr:us-east-1:123456789012:repository\/byoc\/push-test"/, "ECR: the role may pull this repository");
  assert.doesNotMatch(result.hints, /ImageConfig|--vpc-config/);

  ecr.calls.length = 0;
  const again = await pushImage(options({ image: labelled, repository: "byoc/push-test", tag: ["hotfix"] }), collectingRunner(env).runner);
  assert.equal(again.repositoryCreated, false);
  assert.deepEqual(again.imageUris, [`${registry.host}/byoc/push-test:hotfix`]);
  assert.deepEqual(
    ecr.calls.map((call) => call.operation),
    ["DescribeRepositories", "GetAuthorizationToken"],
  );
});

test("the image and repository default to the project's package name and version", async () => {
  const project = join(root, "project");
  await mkdir(project, { recursive: true });
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "@acme/push-me", version: `0.0.${suffix}` }));
  const result = await pushImage(options({ project }), collectingRunner(env).runner);
  assert.deepEqual(result.imageUris, [`${registry.host}/acme/push-me:0.0.${suffix}`]);
  assert.equal((await registry.get(`/v2/acme/push-me/manifests/0.0.${suffix}`, manifestTypes)).status, 200);
});

test("any OCI registry: --registry skips ECR and logs in with BYOC_REGISTRY_USERNAME and BYOC_REGISTRY_PASSWORD", async () => {
  ecr.calls.length = 0;
  const credentials = { BYOC_REGISTRY_USERNAME: registry.username, BYOC_REGISTRY_PASSWORD: registry.password };
  const result = await pushImage(options({ image: labelled, repository: "plain/app", registry: registry.host }, credentials), collectingRunner(env).runner);
  assert.deepEqual(result.imageUris, [`${registry.host}/plain/app:1.2.3`, `${registry.host}/plain/app:1.2.3-abc1234`]);
  assert.equal(ecr.calls.length, 0);
  assert.match(result.hints, /arn:aws:iam::<account-id>:role\/sagemaker-byoc-execution/, "no account outside ECR");
  assert.match(result.hints, new RegExp(`--primary-container 'Image=${registry.host}/plain/app:1\\.2\\.3-abc1234,ModelDataUrl=s3://<bucket>/<models-prefix>/,Mode=MultiModel,ImageConfig=\\{RepositoryAccessMode=Vpc\\}' \\\\$`, "m"));
  assert.match(result.hints, /--vpc-config 'SecurityGroupIds=<security-group-id>,Subnets=<subnet-id-1>,<subnet-id-2>'$/m);
  assert.match(result.hints, /only through your VPC/);
  assert.doesNotMatch(result.hints, /ecr:/, "no ECR pull policy for an image SageMaker will not pull from ECR");

  const { runner, lines } = collectingRunner(env);
  await assert.rejects(pushImage(options({ image: labelled, repository: "plain/app", registry: registry.host }, {}), runner), /buildah push .* exited with code \d+:[\s\S]*(unauthorized|authentication required)/i);
  assert.ok(lines.some((line) => line.includes("existing login")));
});

test("a token the registry refuses is a registry login error", async () => {
  const wrongToken = await startEcrStandIn({ registry: registry.host, password: "not-the-password" });
  try {
    await assert.rejects(
      pushImage(options({ image: labelled, repository: "byoc/push-test", "ecr-endpoint": wrongToken.url }), collectingRunner(env).runner),
      (error: Error) => error instanceof RegistryLoginError && error.code === "REGISTRY_LOGIN_FAILED" && new RegExp(`Login to ${registry.host} failed: .*(unauthorized|invalid username/password)`, "i").test(error.message),
    );
  } finally {
    await wrongToken.close();
  }
});

test("--model-data for an image with its model baked in is pushed with a warning that it is ignored", async () => {
  const { runner, lines } = collectingRunner(env);
  const result = await pushImage(options({ image: baked, repository: "byoc/baked", "model-data": "s3://models/iris/model.tar.gz" }), runner);
  assert.deepEqual(result.imageUris, [`${registry.host}/byoc/baked:2.0.0`]);
  assert.ok(
    lines.includes(
      "warning: --model-data s3://models/iris/model.tar.gz is ignored: the image has its model baked into /opt/ml/model, so CreateModel gets no ModelDataUrl. " +
        "Build without --model to have SageMaker place the model from S3.",
    ),
    lines.join("\n"),
  );
  assert.doesNotMatch(result.hints, /ModelDataUrl|s3:GetObject/);
});

test("an image not built by build needs --tag; a missing image says to build it", async () => {
  await assert.rejects(
    pushImage(options({ image: unlabelled, repository: "byoc/unlabelled" }), collectingRunner(env).runner),
    (error: Error) => error instanceof ContainerError && error.code === "IMAGE_NOT_LABELLED" && /has no org\.opencontainers\.image\.version label.*--tag/.test(error.message),
  );
  const tagged = await pushImage(options({ image: unlabelled, repository: "byoc/unlabelled", tag: ["manual"] }), collectingRunner(env).runner);
  assert.deepEqual(tagged.imageUris, [`${registry.host}/byoc/unlabelled:manual`]);
  await assert.rejects(pushImage(options({ image: "localhost/never-built:1", repository: "x" }), collectingRunner(env).runner), /No local image localhost\/never-built:1 .*build it first/);
});

test("ECR refusing the repository stops the push before any login", async () => {
  const denied = await startEcrStandIn({
    registry: registry.host,
    password: registry.password,
    failures: { DescribeRepositories: { status: 400, type: "AccessDeniedException", message: "not authorized to perform: ecr:DescribeRepositories" } },
  });
  try {
    const { runner, lines } = collectingRunner(env);
    await assert.rejects(pushImage(options({ image: labelled, repository: "byoc/push-test", "ecr-endpoint": denied.url }), runner), /ECR DescribeRepositories failed: AccessDeniedException/);
    assert.ok(!lines.some((line) => line.includes("buildah login")));
    assert.deepEqual(
      denied.calls.map((call) => call.operation),
      ["DescribeRepositories"],
    );
  } finally {
    await denied.close();
  }
});

test("a registry on plain HTTP without --tls-verify=false: the login and the push say to pass it", async () => {
  const plainHttpHint = new RegExp(`${registry.host.replaceAll(".", "\\.")} speaks plain HTTP, not HTTPS: pass --tls-verify=false to push to it\\. Such a registry is for testing only`);
  await assert.rejects(
    pushImage(options({ image: labelled, repository: "byoc/push-test", "tls-verify": "true" }), collectingRunner(env).runner),
    (error: Error) => error instanceof RegistryLoginError && /server gave HTTP response to HTTPS client/.test(error.message) && plainHttpHint.test(error.message),
  );
  // With the tool's own login there is no login step: the push itself meets the plain HTTP answer.
  await assert.rejects(
    pushImage(options({ image: labelled, repository: "plain/app", registry: registry.host, "tls-verify": "true" }, {}), collectingRunner(env).runner),
    (error: Error) => error instanceof ContainerError && error.code === "REGISTRY_PLAIN_HTTP" && /^buildah push /.test(error.message) && plainHttpHint.test(error.message),
  );
});
