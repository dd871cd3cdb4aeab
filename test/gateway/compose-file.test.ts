import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { loadAsyncConfig } from "../../src/config/async-config.js";
import { parseS3Uri } from "../../src/gateway/async/s3-location.js";

const composeFile = fileURLToPath(new URL("../../docker-compose.yml", import.meta.url));
const initScript = fileURLToPath(new URL("../../compose/localstack-init.sh", import.meta.url));

interface Service {
  image: string;
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  profiles?: string[];
}

// CI has no container engine: the file is checked by parsing it, and by docker-compose's own validator.
const compose = parse(await readFile(composeFile, "utf8"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

test("docker-compose.yml: LocalStack with S3, SNS and SQS, a one-shot init, the inference container serving with --async", () => {
  // Services in a profile (the OCR pipeline, test/gateway/pipeline-compose.test.ts) start only when asked for.
  assert.deepEqual(Object.keys(services).filter((name) => services[name]?.profiles === undefined).sort(), ["inference", "localstack", "localstack-init"]);
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

test("docker-compose.yml passes docker-compose's own validation (no engine needed)", async () => {
  const { stdout, stderr } = await promisify(execFile)("docker-compose", ["-f", composeFile, "config", "-q"]);
  assert.equal(stdout + stderr, "");
});
