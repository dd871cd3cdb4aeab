import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { loadAsyncConfig } from "../../src/config/async-config.js";
import { parseS3Uri } from "../../src/gateway/async/s3-location.js";

const composeFile = fileURLToPath(new URL("../../docker-compose.yml", import.meta.url));
const initScript = fileURLToPath(new URL("../../compose/localstack-init.sh", import.meta.url));
const mmeScript = fileURLToPath(new URL("../../compose/mme-upload-models.sh", import.meta.url));

interface Service {
  image: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
}

// CI has no container engine: the file is checked by parsing it, and by docker-compose's own validator.
const compose = parse(await readFile(composeFile, "utf8"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

test("docker-compose.yml: LocalStack with S3, SNS and SQS, a one-shot init, the inference container serving with --async", () => {
  // Services in a profile (the OCR pipeline, the multi-model endpoint) start only when asked for.
  const byDefault = Object.entries(services).filter(([, service]) => service.profiles === undefined).map(([name]) => name);
  assert.deepEqual(byDefault.sort(), ["inference", "localstack", "localstack-init"]);
  const localstack = services["localstack"] as Service;
  assert.match(localstack.image, /^localstack\/localstack:/);
  assert.deepEqual(localstack.environment?.["SERVICES"]?.split(",").sort(), ["s3", "sns", "sqs"]);
  assert.deepEqual(localstack.ports, ["4566:4566"]);
  assert.ok(localstack.healthcheck?.test.join(" ").includes("/_localstack/health"));

  const init = services["localstack-init"] as Service;
  assert.deepEqual(init.depends_on, { localstack: { condition: "service_healthy" } });
  assert.equal(init.environment?.["AWS_ENDPOINT_URL"], "http://localstack:4566");
  assert.ok(init.volumes?.some((volume) => volume.startsWith("./compose/localstack-init.sh:")));

  const inference = services["inference"] as Service;
  assert.equal(inference.image, "${BYOC_IMAGE:-sagemaker-byoc-iris:latest}");
  assert.deepEqual(inference.command, ["serve", "--async"]);
  assert.deepEqual(inference.depends_on, { "localstack-init": { condition: "service_completed_successfully" } });
  assert.deepEqual(inference.ports, ["8080:8080", "8081:8081"]);
  assert.match(inference.healthcheck?.test.join(" ") ?? "", /8080, 8081/);
});

test("docker-compose.yml: the inference container's settings are valid and point at LocalStack, at exactly what the init creates", async () => {
  const inference = services["inference"] as Service;
  const init = services["localstack-init"] as Service;
  const env = inference.environment ?? {};
  const config = loadAsyncConfig(env);
  assert.equal(config.s3Endpoint, "http://localstack:4566");
  assert.equal(config.snsEndpoint, "http://localstack:4566");
  assert.equal(config.s3ForcePathStyle, true);
  assert.equal(config.port, 8081);
  const bucket = init.environment?.["BUCKET"];
  assert.equal(parseS3Uri(config.s3OutputPath ?? "")?.bucket, bucket);
  assert.equal(parseS3Uri(config.s3FailurePath ?? "")?.bucket, bucket);
  assert.equal(config.successTopic, `arn:aws:sns:us-east-1:000000000000:${init.environment?.["SUCCESS_TOPIC"]}`);
  assert.equal(config.errorTopic, `arn:aws:sns:us-east-1:000000000000:${init.environment?.["ERROR_TOPIC"]}`);
  assert.ok(inference.volumes?.some((volume) => volume.endsWith(`:${config.queueDir}`)), "the queue survives container restarts");

  const script = await readFile(initScript, "utf8");
  for (const variable of ["BUCKET", "SUCCESS_TOPIC", "ERROR_TOPIC", "NOTIFICATION_QUEUE"]) assert.ok(script.includes(`"$${variable}"`), variable);
  assert.match(script, /s3api create-bucket/);
  assert.equal(script.match(/sns create-topic/g)?.length, 2);
  assert.match(script, /sns subscribe .*--protocol sqs/);
});

test("docker-compose.yml, profile mme: the upload, a multi-model container and the gateway in front of it, sharing the models' folder", async () => {
  const mme = Object.entries(services).filter(([, service]) => service.profiles?.includes("mme")).map(([name]) => name);
  assert.deepEqual(mme.sort(), ["mme-gateway", "mme-inference", "mme-models-init"]);
  const init = services["mme-models-init"] as Service;
  const container = services["mme-inference"] as Service;
  const gateway = services["mme-gateway"] as Service;

  assert.deepEqual(init.depends_on, { localstack: { condition: "service_healthy" } });
  assert.equal(init.entrypoint?.at(-1), "/init/mme-upload-models.sh");
  assert.ok(init.volumes?.some((volume) => volume.startsWith("./compose/mme-upload-models.sh:/init/mme-upload-models.sh")));
  assert.ok(init.volumes?.some((volume) => volume.endsWith(`:${init.environment?.["MODEL_SOURCE"]}:ro`)), "the model folder is where the script packs it from");

  assert.equal(container.environment?.["SAGEMAKER_MULTI_MODEL"], "true");
  assert.equal(gateway.image, container.image, "the gateway runs from the same image");
  assert.deepEqual(gateway.command, ["gateway"]);
  assert.deepEqual(gateway.depends_on, { "mme-models-init": { condition: "service_completed_successfully" }, "mme-inference": { condition: "service_healthy" } });

  const config = loadAsyncConfig(gateway.environment ?? {});
  const prefix = parseS3Uri(config.multiModel.modelDataUrl ?? "");
  assert.equal(prefix?.bucket, init.environment?.["BUCKET"]);
  assert.equal(prefix?.key, init.environment?.["PREFIX"], "the gateway reads where the script uploads");
  assert.equal(config.s3Endpoint, "http://localstack:4566");
  assert.equal(new URL(config.invocationsUrl ?? "").host, "mme-inference:8080");
  const modelsRoot = container.environment?.["BYOC_MODELS_ROOT"];
  assert.equal(config.multiModel.cacheDir, modelsRoot);
  assert.equal(config.multiModel.containerModelsDir, modelsRoot);
  const volume = (service: Service) => service.volumes?.find((entry) => entry.split(":")[1] === modelsRoot)?.split(":")[0];
  assert.ok(volume(gateway) !== undefined && volume(gateway) === volume(container), "one volume at the same path in both");

  const script = await readFile(mmeScript, "utf8");
  for (const variable of ["BUCKET", "PREFIX", "MODEL_SOURCE", "MODEL_NAMES"]) assert.ok(script.includes(`$${variable}`), variable);
  assert.match(script, /s3 cp .*"s3:\/\/\$BUCKET\/\$PREFIX\$name\.tar\.gz"/);
});

test("compose/mme-upload-models.sh packs the model folder into one archive per name and copies each under the prefix", async () => {
  // No AWS CLI here: a stand-in records the calls and keeps what `s3 cp` would upload.
  const dir = await mkdtemp(join(tmpdir(), "byoc-mme-upload-"));
  try {
    const bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(
      join(bin, "aws"),
      `#!/bin/sh\necho "$*" >> ${dir}/calls\nif [ "$5" = s3 ] && [ "$6" = cp ]; then cp "$8" "${dir}/$(basename "$9")"; fi\n`,
      { mode: 0o755 },
    );
    const source = fileURLToPath(new URL("../../examples/iris/model", import.meta.url));
    await promisify(execFile)("sh", [mmeScript], {
      env: { PATH: `${bin}:${process.env["PATH"] ?? ""}`, BUCKET: "sagemaker-mme", PREFIX: "models/", MODEL_SOURCE: source, MODEL_NAMES: "iris-a iris-b" },
    });
    const calls = (await readFile(join(dir, "calls"), "utf8")).trim().split("\n");
    assert.match(calls[0] ?? "", /s3api head-bucket --bucket sagemaker-mme/);
    assert.deepEqual(
      calls.filter((call) => call.includes(" s3 cp ")).map((call) => call.split(" ").at(-1)),
      ["s3://sagemaker-mme/models/iris-a.tar.gz", "s3://sagemaker-mme/models/iris-b.tar.gz"],
    );
    const listed = await promisify(execFile)("tar", ["-tzf", join(dir, "iris-a.tar.gz")]);
    assert.ok(listed.stdout.split("\n").includes("./iris.onnx"), listed.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("docker-compose.yml passes docker-compose's own validation (no engine needed), with and without the mme profile", async () => {
  for (const profile of [[], ["--profile", "mme"]]) {
    const { stdout, stderr } = await promisify(execFile)("docker-compose", ["-f", composeFile, ...profile, "config", "-q"]);
    assert.equal(stdout + stderr, "");
  }
});
