import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ConfigurationError, ModelArchiveError } from "../../../src/errors.js";
import { resolveModelDir } from "../../../src/models/artifacts/model-dir.js";
import { rawTarGz } from "./tar-fixtures.js";

let workDir: string;
let caseCount = 0;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "model-dir-test-"));
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function newCaseDir(): Promise<string> {
  caseCount += 1;
  const dir = join(workDir, `case-${caseCount}`);
  await mkdir(dir);
  return dir;
}

test("loads from the model directory itself when it holds no model.tar.gz", async () => {
  const dir = await newCaseDir();
  const modelDir = join(dir, "model");
  await mkdir(modelDir);
  await writeFile(join(modelDir, "model.onnx"), "weights");

  const resolved = await resolveModelDir({ modelDir, extractDir: join(dir, "extracted") });

  assert.equal(resolved, modelDir);
  assert.deepEqual(await readdir(dir), ["model"]);
});

test("extracts model.tar.gz into the extraction directory and loads from there", async () => {
  const dir = await newCaseDir();
  const modelDir = join(dir, "model");
  await mkdir(join(modelDir, "code"), { recursive: true });
  await writeFile(join(modelDir, "code", "inference.js"), "export function modelFn() {}");
  await writeFile(join(modelDir, "model.tar.gz"), rawTarGz([{ path: "model.onnx", data: "weights" }, { path: "labels.txt", data: "cat" }]));
  const extractDir = join(dir, "tmp", "model");

  const resolved = await resolveModelDir({ modelDir, extractDir });

  assert.equal(resolved, extractDir);
  assert.equal(await readFile(join(resolved, "model.onnx"), "utf8"), "weights");
  assert.equal(await readFile(join(resolved, "labels.txt"), "utf8"), "cat");
  // Files next to the archive stay in the model directory, which is never written to.
  assert.deepEqual((await readdir(modelDir)).sort(), ["code", "model.tar.gz"]);
  assert.deepEqual(await readdir(join(modelDir, "code")), ["inference.js"]);
  assert.equal((await readdir(resolved)).includes("code"), false);
});

test("reuses the extraction on the next start", async () => {
  const dir = await newCaseDir();
  const modelDir = join(dir, "model");
  await mkdir(modelDir);
  await writeFile(join(modelDir, "model.tar.gz"), rawTarGz([{ path: "model.onnx", data: "weights" }]));
  const extractDir = join(dir, "extracted");
  await resolveModelDir({ modelDir, extractDir });
  await writeFile(join(extractDir, "sentinel"), "kept when nothing is extracted again");

  const resolved = await resolveModelDir({ modelDir, extractDir });

  assert.equal(await readFile(join(resolved, "sentinel"), "utf8"), "kept when nothing is extracted again");
});

test("passes the limits on to the extraction", async () => {
  const dir = await newCaseDir();
  const modelDir = join(dir, "model");
  await mkdir(modelDir);
  await writeFile(join(modelDir, "model.tar.gz"), rawTarGz([{ path: "a", data: "" }, { path: "b", data: "" }]));

  await assert.rejects(resolveModelDir({ modelDir, extractDir: join(dir, "extracted"), limits: { maxEntries: 1 } }), (error: unknown) => {
    assert.ok(error instanceof ModelArchiveError);
    assert.equal(error.message, `${join(modelDir, "model.tar.gz")}: entry "b" is past the limit of 1 entries (maxEntries)`);
    return true;
  });
});

test("names a missing model directory and the setting to change", async () => {
  const modelDir = join(await newCaseDir(), "no-such-model");

  await assert.rejects(
    resolveModelDir({ modelDir, extractDir: join(workDir, "unused") }),
    new ConfigurationError(`The model directory ${modelDir} does not exist; pass --model-dir <dir> (or set BYOC_MODEL_DIR) to the folder holding the model artifacts`),
  );
});

test("refuses a model directory that is a file", async () => {
  const modelDir = join(await newCaseDir(), "model.onnx");
  await writeFile(modelDir, "weights");

  await assert.rejects(
    resolveModelDir({ modelDir, extractDir: join(workDir, "unused") }),
    new ConfigurationError(`The model directory ${modelDir} is not a directory; pass --model-dir <dir> (or set BYOC_MODEL_DIR) to the folder holding the model artifacts`),
  );
});

test("refuses an extraction directory inside the read-only model directory", async () => {
  const dir = await newCaseDir();
  const modelDir = join(dir, "model");
  await mkdir(modelDir);
  await writeFile(join(modelDir, "model.tar.gz"), rawTarGz([{ path: "model.onnx", data: "weights" }]));

  for (const extractDir of [join(modelDir, "extracted"), modelDir, dir]) {
    await assert.rejects(
      resolveModelDir({ modelDir, extractDir }),
      new ConfigurationError(
        `The model extraction directory ${extractDir} overlaps the model directory ${modelDir}, which is treated as read-only; choose an extraction directory outside it`,
      ),
    );
  }
  assert.deepEqual(await readdir(modelDir), ["model.tar.gz"]);
});
