/**
 * `build --platform vertex`'s deployment commands, read back by a real shell (a shell function
 * stands in for gcloud and docker, which are not installed here and could reach no project).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { renderVertexHints } from "../../../src/build/deploy-hints.js";
import { loadBuildOptions } from "../../../src/build/options.js";

/** Each gcloud or docker command of the hints, as the argument list a shell gives it. */
function shellCalls(hints: string): string[][] {
  const commands = hints.slice(hints.indexOf("\n"), hints.indexOf("# A prediction:"));
  const script = `gcloud() { printf '%s\\0' gcloud "$@"; printf '\\n'; }\ndocker() { printf '%s\\0' docker "$@"; printf '\\n'; }\n${commands}`;
  return execFileSync("sh", ["-c", script], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\0").filter((word) => word !== ""));
}

test("the commands push the image to Artifact Registry, upload it with serve as its argument and Vertex AI's routes, and deploy it", () => {
  const calls = shellCalls(renderVertexHints({ image: "acme/iris-endpoint:1.2.3", bakedModel: true, target: "cpu" }));
  const remote = "<region>-docker.pkg.dev/<project>/<repository>/iris-endpoint:1.2.3";
  assert.deepEqual(calls, [
    ["gcloud", "artifacts", "repositories", "create", "<repository>", "--repository-format=docker", "--location=<region>"],
    ["gcloud", "auth", "configure-docker", "<region>-docker.pkg.dev"],
    ["docker", "tag", "acme/iris-endpoint:1.2.3", remote],
    ["docker", "push", remote],
    [
      "gcloud", "ai", "models", "upload", "--region=<region>", "--display-name=iris-endpoint", `--container-image-uri=${remote}`,
      "--container-args=serve", "--container-ports=8080", "--container-health-route=/health", "--container-predict-route=/predict",
    ],
    ["gcloud", "ai", "endpoints", "create", "--region=<region>", "--display-name=iris-endpoint"],
    ["gcloud", "ai", "endpoints", "deploy-model", "<endpoint-id>", "--region=<region>", "--model=<model-id>", "--display-name=iris-endpoint", "--machine-type=n1-standard-2", "--traffic-split=0=100"],
  ]);
});

test("a GPU image deploys on a machine with an accelerator; an image without its model is warned about first", () => {
  const gpu = shellCalls(renderVertexHints({ image: "iris:1", bakedModel: true, target: "gpu" })).at(-1) ?? [];
  assert.ok(gpu.includes("--accelerator=count=1,type=nvidia-tesla-t4"));
  const empty = renderVertexHints({ image: "iris:1", bakedModel: false, target: "cpu" });
  assert.match(empty, /this image holds no model\. Vertex AI passes a model's artifacts to the container only as a\n {2}# gs:\/\/ URI \(AIP_STORAGE_URI\), which the server does not read: build with --model/);
  assert.doesNotMatch(renderVertexHints({ image: "iris:1", bakedModel: true, target: "cpu" }), /holds no model/);
});

test("build takes --platform sagemaker or vertex, sagemaker by default", () => {
  assert.equal(loadBuildOptions({}, "/work/app").platform, "sagemaker");
  assert.equal(loadBuildOptions({ platform: "vertex" }, "/work/app").platform, "vertex");
  assert.throws(() => loadBuildOptions({ platform: "azure" }, "/work/app"), /--platform "azure" must be one of sagemaker, vertex/);
});
