import assert from "node:assert/strict";
import { test } from "node:test";
import { generatedMarker, renderDockerfile, renderDockerignore, renderLabels, type DockerfileOptions } from "../../src/build/dockerfile.js";

const cpu: DockerfileOptions = {
  target: "cpu",
  baseImage: "node:24-bookworm-slim",
  nodeImage: "node:24-bookworm-slim",
  multiModel: false,
  bakedModel: false,
  handlersEntry: undefined,
  image: { name: "iris-endpoint", version: "1.2.3", revision: "4f2c9e1" },
};

/** The value of one `KEY="value"` pair of a LABEL or ENV instruction. */
function pair(dockerfile: string, key: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${key.replaceAll(".", "\\.")}=("(?:[^"\\\\]|\\\\.)*")`, "m").exec(dockerfile);
  return match?.[1] === undefined ? undefined : (JSON.parse(match[1]) as string);
}

test("the CPU Dockerfile: slim Node base as a build argument, exec-form serve entrypoint, no RUN step", () => {
  const dockerfile = renderDockerfile(cpu);
  assert.ok(dockerfile.startsWith(generatedMarker));
  assert.match(dockerfile, /^ARG BASE_IMAGE=node:24-bookworm-slim\nFROM \$\{BASE_IMAGE\}$/m);
  assert.match(dockerfile, /^ENTRYPOINT \["\/opt\/program\/serve"\]$/m);
  assert.doesNotMatch(dockerfile, /^CMD/m, "no default command: SageMaker passes serve, anything else is refused");
  assert.doesNotMatch(dockerfile, /^RUN/m, "the CPU image builds without network or container runtime");
  assert.match(dockerfile, /^COPY program\/node_modules\/ \/opt\/program\/node_modules\/$/m);
  assert.match(dockerfile, /^COPY serve healthcheck \/opt\/program\/$/m);
  assert.match(dockerfile, /^EXPOSE 8080$/m);
  assert.equal(pair(dockerfile, "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"), "true");
  assert.equal(pair(dockerfile, "NODE_ENV"), "production");
  assert.equal(pair(dockerfile, "MALLOC_MMAP_THRESHOLD_"), "131072", "glibc's mmap threshold stays at 128 KiB, so large freed buffers go back to the system");
  assert.equal(pair(dockerfile, "BYOC_ONNX_PROVIDERS"), undefined, "the CPU image keeps the cpu provider default");
});

test("the GPU Dockerfile: CUDA 12 + cuDNN 9 base, Node copied in, onnxruntime-node's CUDA 12 provider installed, cuda then cpu", () => {
  const dockerfile = renderDockerfile({ ...cpu, target: "gpu", baseImage: "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04" });
  assert.match(dockerfile, /^ARG BASE_IMAGE=nvidia\/cuda:12\.8\.1-cudnn-runtime-ubuntu22\.04$/m);
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-bookworm-slim\nFROM \$\{NODE_IMAGE\} AS node$/m);
  assert.match(dockerfile, /^FROM \$\{BASE_IMAGE\}\nCOPY --from=node \/usr\/local\/bin\/node \/usr\/local\/bin\/node$/m);
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\.js/);
  assert.match(dockerfile, /^COPY check-linked-libraries \/usr\/local\/bin\/check-linked-libraries$/m);
  assert.match(
    dockerfile,
    / && check-linked-libraries bin\/napi-v6\/linux\/x64\/libonnxruntime_providers_cuda\.so$/m,
    "a missing download or a provider linked against another CUDA fails the build",
  );
  assert.equal(pair(dockerfile, "BYOC_ONNX_PROVIDERS"), "cuda,cpu");
  assert.equal(pair(dockerfile, "sagemaker-byoc-node.target"), "gpu");
  const install = dockerfile.indexOf("script/install.js");
  assert.ok(dockerfile.indexOf("COPY program/node_modules/") < install, "dependencies are in place before the provider download");
  assert.ok(install < dockerfile.indexOf("COPY program/*.json"), "code changes do not repeat the download");
});

test("the multi-model label only when asked for", () => {
  assert.equal(pair(renderDockerfile(cpu), "com.amazonaws.sagemaker.capabilities.multi-models"), undefined);
  assert.equal(pair(renderDockerfile({ ...cpu, multiModel: true }), "com.amazonaws.sagemaker.capabilities.multi-models"), "true");
});

test("a baked model is copied into /opt/ml/model; without one SageMaker places it", () => {
  const baked = renderDockerfile({ ...cpu, bakedModel: true });
  assert.match(baked, /^COPY model\/ \/opt\/ml\/model\/$/m);
  assert.equal(pair(baked, "sagemaker-byoc-node.model"), "baked");
  const placed = renderDockerfile(cpu);
  assert.doesNotMatch(placed, /\/opt\/ml\/model/);
  assert.equal(pair(placed, "sagemaker-byoc-node.model"), "sagemaker");
});

test("compiled handlers are copied and named by BYOC_HANDLERS, with source maps on", () => {
  const dockerfile = renderDockerfile({ ...cpu, handlersEntry: "inference.js" });
  assert.match(dockerfile, /^COPY program\/code\/ \/opt\/program\/code\/$/m);
  assert.equal(pair(dockerfile, "BYOC_HANDLERS"), "/opt/program/code/inference.js");
  assert.equal(pair(dockerfile, "NODE_OPTIONS"), "--enable-source-maps");
  const without = renderDockerfile(cpu);
  assert.doesNotMatch(without, /program\/code/);
  assert.equal(pair(without, "BYOC_HANDLERS"), undefined, "model.tar.gz's code/ folder stays usable");
});

test("the base image override becomes the BASE_IMAGE default", () => {
  const dockerfile = renderDockerfile({ ...cpu, baseImage: "localhost/sagemaker-byoc-base:bookworm-node24" });
  assert.match(dockerfile, /^ARG BASE_IMAGE=localhost\/sagemaker-byoc-base:bookworm-node24$/m);
  assert.equal(dockerfile.match(/^FROM /gm)?.length, 1);
});

test("labels record the package and the git commit for push; a checkout-less build has no revision", () => {
  const labels = renderLabels(cpu);
  assert.equal(labels["org.opencontainers.image.title"], "iris-endpoint");
  assert.equal(labels["org.opencontainers.image.version"], "1.2.3");
  assert.equal(labels["org.opencontainers.image.revision"], "4f2c9e1");
  assert.equal(renderLabels({ ...cpu, image: { ...cpu.image, revision: undefined } })["org.opencontainers.image.revision"], undefined);
  const quoted = renderDockerfile({ ...cpu, image: { name: 'odd "name"', version: "1.0.0", revision: undefined } });
  assert.equal(pair(quoted, "org.opencontainers.image.title"), 'odd "name"', "values are quoted, quotes escaped");
});

test(".dockerignore keeps other platforms' onnxruntime binaries and .npmrc out of the image", () => {
  const ignore = renderDockerignore().split("\n");
  for (const platform of ["darwin", "win32", "linux/arm64"]) assert.ok(ignore.includes(`program/node_modules/onnxruntime-node/bin/napi-v6/${platform}`));
  assert.ok(!ignore.some((line) => line.includes("linux/x64")));
  assert.ok(ignore.includes("**/.npmrc"));
});

test("a HEALTHCHECK that node runs against /ping, within SageMaker's start-up window", () => {
  const dockerfile = renderDockerfile(cpu);
  assert.match(dockerfile, /^HEALTHCHECK --interval=10s --timeout=3s --start-period=240s --retries=3 CMD \["\/opt\/program\/healthcheck"\]$/m);
  assert.ok(dockerfile.indexOf("COPY serve healthcheck") < dockerfile.indexOf("HEALTHCHECK"), "the script is in the image");
});

test("the image describes itself, never inheriting its base image's description", () => {
  assert.equal(pair(renderDockerfile(cpu), "org.opencontainers.image.description"), "iris-endpoint 1.2.3: a SageMaker inference endpoint built by sagemaker-byoc");
  const described = renderDockerfile({ ...cpu, image: { ...cpu.image, description: "Iris classifier" } });
  assert.equal(pair(described, "org.opencontainers.image.description"), "Iris classifier");
});

test("--platform's build arguments are declared in the image's stage, so none goes unused", () => {
  for (const target of ["cpu", "gpu"] as const) {
    const dockerfile = renderDockerfile({ ...cpu, target });
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("FROM ${BASE_IMAGE}"));
    for (const name of ["TARGETPLATFORM", "TARGETOS", "TARGETARCH"]) assert.match(finalStage, new RegExp(`^ARG ${name}$`, "m"), `${target}: ${name}`);
  }
});
