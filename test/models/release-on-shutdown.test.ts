import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { invoke, irisModelDir, setosaRow, startTestServer } from "../helpers/server.js";

const markers = await mkdtemp(join(tmpdir(), "byoc-release-"));
after(() => rm(markers, { recursive: true, force: true }));
const handlersPath = fileURLToPath(new URL("../fixtures/handlers/release-marker.ts", import.meta.url));

test("closing the server releases the model in every worker, a user modelFn's included (its unloadFn runs)", async () => {
  process.env["BYOC_TEST_MARKER_DIR"] = markers;
  try {
    const server = await startTestServer({ modelDir: irisModelDir, handlersPath, workers: 2 });
    await server.loaded;
    assert.equal(server.ready, true);
    assert.equal((await invoke(server, JSON.stringify([setosaRow]), { "content-type": "application/json" })).status, 200);
    assert.deepEqual(await readdir(markers), [], "nothing is released while serving");
    await server.close();
  } finally {
    delete process.env["BYOC_TEST_MARKER_DIR"];
  }
  assert.deepEqual((await readdir(markers)).sort(), ["released-0", "released-1"]);
  assert.equal(await readFile(join(markers, "released-0"), "utf8"), "model");
});
