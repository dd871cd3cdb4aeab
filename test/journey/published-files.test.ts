import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { promisify } from "node:util";
import { repoRoot, toolEnv } from "../build/helpers/project.js";

const run = promisify(execFile);

test("the published package holds what the README and docs send users to, and names its repository", async () => {
  const [packed] = JSON.parse((await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot, env: toolEnv, maxBuffer: 16 * 1024 * 1024 })).stdout) as [
    { files: { path: string }[] },
  ];
  const files = new Set(packed.files.map((file) => file.path));
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const linked = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1] ?? "");
  assert.ok(linked.length > 0);
  for (const path of [...linked, "scripts/make-base-image.sh", "container/serve", "container/healthcheck", "templates/onnx-tabular/code/inference.ts", "templates/common/gitignore", "dist/testing/index.js"]) {
    assert.ok(files.has(path), `${path} is published`);
  }
  assert.ok(![...files].some((path) => path.startsWith("test/") || path.startsWith("src/")), "no tests or sources");
  const manifest = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { repository?: { url?: string }; engines?: { node?: string } };
  assert.match(manifest.repository?.url ?? "", /^git\+https:\/\/github\.com\/.+\.git$/);
  assert.equal(manifest.engines?.node, ">=22");
});
