import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "tar";
import { startServer } from "../../../src/server.js";
import { rawTarGz, tarType } from "../../models/artifacts/tar-fixtures.js";
import { irisModelDir, setosaRow } from "../../helpers/server.js";

let workspace: string;
before(async () => {
  workspace = await mkdtemp(join(tmpdir(), "archive-serving-"));
});
after(() => rm(workspace, { recursive: true, force: true }));

const base = { port: 0, host: "127.0.0.1", workers: 1, logLevel: "silent" as const };

test("a model.tar.gz with code/inference.js is extracted elsewhere and served with its handlers", async () => {
  const staging = join(workspace, "staging");
  const modelDir = join(workspace, "model");
  await Promise.all([mkdir(join(staging, "code"), { recursive: true }), mkdir(modelDir)]);
  await writeFile(join(staging, "iris.onnx"), await readFile(join(irisModelDir, "iris.onnx")));
  await writeFile(
    join(staging, "code", "inference.js"),
    `export function outputFn(prediction) {
       const row = Array.from(prediction.data);
       return { body: JSON.stringify({ label: row.indexOf(Math.max(...row)) }), contentType: "application/json" };
     }`,
  );
  await create({ gzip: true, file: join(modelDir, "model.tar.gz"), cwd: staging }, ["iris.onnx", "code"]);

  const extractDir = join(workspace, "extracted");
  const server = await startServer({ ...base, modelDir, extractDir }, {});
  try {
    await server.loaded;
    assert.equal((await fetch(`${server.url}/ping`)).status, 200);
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: JSON.stringify([setosaRow]),
      headers: { "content-type": "application/json" },
    });
    assert.deepEqual(await response.json(), { label: 0 });
    assert.ok((await readFile(join(extractDir, "iris.onnx"))).length > 0, "extracted outside the model directory");
  } finally {
    await server.close();
  }
});

test("a hostile model.tar.gz keeps /ping at 503 and names the offending entry", async () => {
  const modelDir = await mkdtemp(join(workspace, "hostile-"));
  await writeFile(
    join(modelDir, "model.tar.gz"),
    rawTarGz([{ path: "model.onnx", data: "x" }, { path: "evil", type: tarType.symlink, linkpath: "/etc/passwd" }]),
  );
  const server = await startServer({ ...base, modelDir, extractDir: join(workspace, "hostile-extracted") }, {});
  try {
    await server.loaded;
    const ping = await fetch(`${server.url}/ping`);
    assert.equal(ping.status, 503);
    assert.match(((await ping.json()) as { error: { message: string } }).error.message, /symbolic link "evil" points outside/);
  } finally {
    await server.close();
  }
});
