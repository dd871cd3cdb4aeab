import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { irisModelDir } from "../../helpers/server.js";
import { spawnServe, type ServeChild } from "../../helpers/serve-child.js";

const scratch = await mkdtemp(join(tmpdir(), "byoc-mme-rss-"));
let server: ServeChild | undefined;
after(async () => {
  server?.child.kill("SIGKILL");
  await rm(scratch, { recursive: true, force: true });
});

/** The README's bound on resident-memory growth over 900 load and unload cycles, after 100 to warm up. */
const maxGrowthBytes = 32 * 1024 * 1024;

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

test("loading and unloading a model 1,000 times grows resident memory by less than 32 MiB after the first 100", async () => {
  const url = join(scratch, "iris", "model");
  await mkdir(url, { recursive: true });
  await copyFile(join(irisModelDir, "iris.onnx"), join(url, "iris.onnx"));
  server = await spawnServe(["--multi-model", "--models-root", scratch, "--workers", "1", "--log-level", "warn"]);
  const pid = server.child.pid as number;
  let warm = 0;
  for (let cycle = 1; cycle <= 1000; cycle++) {
    const loaded = await fetch(`${server.url}/models`, { method: "POST", body: JSON.stringify({ model_name: "iris", url }) });
    assert.equal(loaded.status, 200, `load ${cycle}`);
    await loaded.body?.cancel();
    const unloaded = await fetch(`${server.url}/models/iris`, { method: "DELETE" });
    assert.equal(unloaded.status, 200, `unload ${cycle}`);
    await unloaded.body?.cancel();
    if (cycle === 100) warm = await residentBytes(pid);
  }
  const growth = (await residentBytes(pid)) - warm;
  assert.ok(growth < maxGrowthBytes, `resident memory grew by ${(growth / 1024 / 1024).toFixed(1)} MiB over 900 cycles`);
});
