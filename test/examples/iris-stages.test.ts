/**
 * The README's stages example (examples/iris/classify-stages.ts) over real HTTP, on the bundled
 * iris model.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import type { RunningServer } from "../../src/server.js";
import { invoke, irisModelDir, startTestServer } from "../helpers/server.js";

let server: RunningServer;
before(async () => {
  server = await startTestServer({ handlersPath: fileURLToPath(new URL("../../examples/iris/classify-stages.ts", import.meta.url)), modelDir: irisModelDir });
});
after(() => server.close());

test("CSV rows go through parse, the iris model and name: a setosa and a virginica", async () => {
  const response = await invoke(server, "5.1,3.5,1.4,0.2\n6.9,3.1,5.4,2.1", { "content-type": "text/csv" });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), [
    { species: "setosa", probability: 0.997 },
    { species: "virginica", probability: 0.977 },
  ]);
});

test("rows of zeros answer early from parse", async () => {
  const response = await invoke(server, "0,0,0,0", { "content-type": "text/csv" });
  assert.deepEqual(await response.json(), [{ species: "none", probability: 0 }]);
});

test("a short row is parse's 400, naming it", async () => {
  const response = await invoke(server, "1,2", { "content-type": "text/csv" });
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: { code: "BAD_REQUEST", message: 'Stage "parse": Send CSV rows of 4 numbers', stage: "parse" } });
});

test("the README shows this example as it is in examples/iris/classify-stages.ts", async () => {
  const source = await readFile(new URL("../../examples/iris/classify-stages.ts", import.meta.url), "utf8");
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const code = source.slice(source.indexOf("import {")).replace("/** One row's answer. */\nexport type Species", "type Species");
  assert.ok(readme.includes(`\`\`\`ts\n${code}\`\`\``), "README's stages example differs from the file");
});
