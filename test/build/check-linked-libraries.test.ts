import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// The GPU image runs this script on onnxruntime-node's CUDA provider (src/build/dockerfile.ts).
// No CUDA library exists on this machine, so it is checked here on onnxruntime's own CPU binding:
// linked next to its libonnxruntime.so.1 it resolves; copied away from it, it does not.
const script = fileURLToPath(new URL("../../container/check-linked-libraries", import.meta.url));
const bindingDir = fileURLToPath(new URL("../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/", import.meta.url));

function check(...libraries: string[]): { status: number | null; stderr: string } {
  const { status, stderr } = spawnSync(script, libraries, { encoding: "utf8" });
  return { status, stderr };
}

test("a library whose dependencies all resolve passes", () => {
  assert.deepEqual(check(join(bindingDir, "onnxruntime_binding.node")), { status: 0, stderr: "" });
});

test("a library linked against a missing one fails the build, naming it and what to do", async () => {
  const dir = await mkdtemp(join(tmpdir(), "byoc-ldd-"));
  try {
    await copyFile(join(bindingDir, "onnxruntime_binding.node"), join(dir, "provider.so"));
    const { status, stderr } = check(join(dir, "provider.so"));
    assert.equal(status, 1);
    assert.match(stderr, /provider\.so links against libraries this image does not have/);
    assert.match(stderr, /libonnxruntime\.so\.1 => not found/);
    assert.match(stderr, /--base-image/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a provider that was never downloaded fails the build", () => {
  const { status, stderr } = check("/nonexistent/libonnxruntime_providers_cuda.so");
  assert.equal(status, 1);
  assert.match(stderr, /does not exist \(was the download skipped\?\)/);
});
