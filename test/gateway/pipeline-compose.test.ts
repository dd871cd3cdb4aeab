import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { parse } from "yaml";
import { LINE_IMAGES_TYPE } from "../../examples/ocr/line-images.js";
import { pipelineSettings } from "../../src/config/pipeline-config.js";
import { resolveSettings } from "../../src/config/resolve.js";
import { settingFlagOptions } from "../../src/cli/setting-flags.js";
import { parsePipelineContainers } from "../../src/gateway/pipeline/containers.js";

const root = new URL("../../", import.meta.url);
const composeFile = fileURLToPath(new URL("docker-compose.yml", root));

interface Service {
  image: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

// CI has no container engine: the file is checked by parsing it, and by docker-compose's own validator.
const services = (parse(await readFile(composeFile, "utf8"), { merge: true }) as { services: Record<string, Service> }).services;
const detection = services["ocr-detection"] as Service;
const recognition = services["ocr-recognition"] as Service;
const gateway = services["ocr-pipeline"] as Service;

test("docker-compose.yml: the OCR pipeline's two containers serve on the ports SAGEMAKER_BIND_TO_PORT gives them, behind the pipeline gateway, in a profile of their own", () => {
  for (const service of [detection, recognition, gateway]) assert.deepEqual(service.profiles, ["ocr-pipeline"], "not started by a plain `docker compose up`");
  for (const container of [detection, recognition]) {
    assert.deepEqual(container.command, ["serve"]);
    const port = container.environment?.["SAGEMAKER_BIND_TO_PORT"];
    assert.match(port ?? "", /^\d+$/);
    assert.ok(container.healthcheck?.test.join(" ").includes(`http://127.0.0.1:${port}/ping`), "the healthcheck asks the port it serves on");
  }
  assert.notEqual(detection.environment?.["SAGEMAKER_BIND_TO_PORT"], recognition.environment?.["SAGEMAKER_BIND_TO_PORT"], "one port each, as on one SageMaker instance");
  assert.equal(detection.environment?.["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"], LINE_IMAGES_TYPE, "the first container answers what the second reads");
  assert.equal(recognition.environment?.["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"], undefined, "the last one answers the client's Accept");
});

test("docker-compose.yml: the gateway's settings are valid and name the two containers, in order, at their service names and ports", async () => {
  const { values } = parseArgs({ args: gateway.command ?? [], options: settingFlagOptions([pipelineSettings], "pipeline"), strict: true });
  const config = resolveSettings(pipelineSettings, { env: gateway.environment ?? {}, flags: { command: "pipeline", values } });
  const containers = parsePipelineContainers(config.containers ?? [], config.containerEnvironment ?? [], config.mode);
  assert.deepEqual(
    containers.map(({ hostname, target }) => ({ hostname, target })),
    [
      { hostname: "detection", target: { kind: "url", invocationsUrl: `http://ocr-detection:${detection.environment?.["SAGEMAKER_BIND_TO_PORT"]}/invocations` } },
      { hostname: "recognition", target: { kind: "url", invocationsUrl: `http://ocr-recognition:${recognition.environment?.["SAGEMAKER_BIND_TO_PORT"]}/invocations` } },
    ],
  );
  assert.equal(config.mode, "Serial");
  assert.deepEqual(gateway.ports, [`8082:${config.port}`]);
  assert.ok(gateway.healthcheck?.test.join(" ").includes(`http://127.0.0.1:${config.port}/ping`));
  assert.deepEqual(gateway.depends_on, { "ocr-detection": { condition: "service_healthy" }, "ocr-recognition": { condition: "service_healthy" } });
  // The images' entrypoint only serves; the gateway runs the CLI the entrypoint would run.
  const entrypoint = await readFile(new URL("container/serve", root), "utf8");
  const cli = /cli="\$\{BYOC_CLI:-([^}]+)\}"/.exec(entrypoint)?.[1];
  assert.deepEqual(gateway.entrypoint, ["node", cli, "pipeline"]);
});

test("compose/build-ocr-images.sh builds the two images the compose file runs, each with its handlers and model", async () => {
  const script = await readFile(new URL("compose/build-ocr-images.sh", root), "utf8");
  for (const [service, handlers, model] of [
    [detection, "examples/ocr/inference.ts", "ch_PP-OCRv4_det_infer.onnx"],
    [recognition, "examples/ocr/recognition.ts", "ch_PP-OCRv4_rec_infer.onnx"],
  ] as const) {
    const image = /^\$\{[A-Z_]+:-(.+)\}$/.exec(service.image)?.[1] ?? "";
    assert.match(script, new RegExp(`--handlers "\\$repo/${handlers.replace(/[./]/g, "\\$&")}".*\\n.*--tag ${image.replace(/[.:]/g, "\\$&")}`), `${image} is built from ${handlers}`);
    assert.ok(script.includes(model), `${model} is baked in`);
  }
  assert.ok(script.includes("ppocr_keys_v1.txt"), "the recogniser's dictionary is baked in beside it");
  assert.equal(gateway.image, detection.image);
});

test("docker-compose.yml with the ocr-pipeline profile passes docker-compose's own validation (no engine needed)", async () => {
  const { stdout, stderr } = await promisify(execFile)("docker-compose", ["-f", composeFile, "--profile", "ocr-pipeline", "config", "-q"]);
  assert.equal(stdout + stderr, "");
});
