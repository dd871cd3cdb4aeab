import assert from "node:assert/strict";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cliOnlyDependencies, importCliDependency, removeCliOnlyPackages } from "../../src/build/cli-only-dependencies.js";
import { ConfigurationError } from "../../src/errors.js";

const root = await mkdtemp(join(tmpdir(), "byoc-cli-only-"));
after(() => rm(root, { recursive: true, force: true }));

/** An installed node_modules tree: package folder (relative to the program) → its dependencies. */
async function installed(name: string, program: Record<string, string[]>, packages: Record<string, string[]>): Promise<string> {
  const dir = join(root, name);
  const write = async (folder: string, manifest: Record<string, unknown>) => {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "package.json"), JSON.stringify(manifest));
    await writeFile(join(folder, "index.js"), "x".repeat(1000));
  };
  await write(dir, { dependencies: Object.fromEntries((program["dependencies"] ?? []).map((dependency) => [dependency, "*"])) });
  for (const [folder, dependencies] of Object.entries(packages)) {
    await write(join(dir, folder), { name: folder.split("node_modules/").at(-1), dependencies: Object.fromEntries(dependencies.map((dependency) => [dependency, "*"])) });
  }
  await writeFile(join(dir, "node_modules", ".package-lock.json"), "{}");
  return dir;
}

async function present(dir: string, folder: string): Promise<boolean> {
  return access(join(dir, folder)).then(
    () => true,
    () => false,
  );
}

test("the CLI-only clients go, with what only they need; what the server needs too stays", async () => {
  const dir = await installed(
    "toolkit-only",
    { dependencies: ["sagemaker-byoc-node"] },
    {
      "node_modules/sagemaker-byoc-node": ["@aws-sdk/client-s3", ...cliOnlyDependencies],
      "node_modules/@aws-sdk/client-s3": ["@smithy/shared"],
      "node_modules/@aws-sdk/client-ecr": ["@smithy/shared", "ecr-only"],
      "node_modules/@aws-sdk/client-ecr/node_modules/nested-only": [],
      "node_modules/@aws-sdk/client-sagemaker-runtime": ["@smithy/shared", "@smithy/eventstream"],
      "node_modules/@smithy/shared": [],
      "node_modules/@smithy/eventstream": [],
      "node_modules/ecr-only": [],
      "node_modules/unrelated-leftover": [],
    },
  );
  const removed = await removeCliOnlyPackages(dir);
  assert.deepEqual(removed.packages, ["@aws-sdk/client-ecr", "@aws-sdk/client-sagemaker-runtime", "@smithy/eventstream", "ecr-only"]);
  assert.ok(removed.bytes >= 5 * 1000, "the files of every removed package, nested ones included");
  for (const kept of ["sagemaker-byoc-node", "@aws-sdk/client-s3", "@smithy/shared", "unrelated-leftover"]) assert.ok(await present(dir, `node_modules/${kept}`), kept);
  for (const gone of ["@aws-sdk/client-ecr", "@aws-sdk/client-sagemaker-runtime", "ecr-only"]) assert.ok(!(await present(dir, `node_modules/${gone}`)), gone);
  assert.ok(!(await present(dir, "node_modules/.package-lock.json")), "npm's hidden lockfile, which listed them, goes too");
});

test("a project that depends on a CLI-only client itself keeps it", async () => {
  const dir = await installed(
    "project-uses-runtime",
    { dependencies: ["sagemaker-byoc-node", "@aws-sdk/client-sagemaker-runtime"] },
    {
      "node_modules/sagemaker-byoc-node": [...cliOnlyDependencies],
      "node_modules/@aws-sdk/client-ecr": [],
      "node_modules/@aws-sdk/client-sagemaker-runtime": ["@smithy/eventstream"],
      "node_modules/@smithy/eventstream": [],
    },
  );
  const removed = await removeCliOnlyPackages(dir);
  assert.deepEqual(removed.packages, ["@aws-sdk/client-ecr"]);
  assert.ok(await present(dir, "node_modules/@aws-sdk/client-sagemaker-runtime"));
  assert.ok(await present(dir, "node_modules/@smithy/eventstream"));
});

test("a CLI-only dependency that is missing is a clear error naming the command; other failures pass through", async () => {
  // As inside an image: the package is not in node_modules (a name no package has stands in for it).
  const missing: string = "@aws-sdk/client-ecr-not-installed";
  await assert.rejects(
    importCliDependency("@aws-sdk/client-ecr", "push", () => import(missing)),
    (error: Error) => error instanceof ConfigurationError && /^sagemaker-byoc push needs @aws-sdk\/client-ecr, which is not installed here: images built by sagemaker-byoc build leave it out/.test(error.message),
  );
  await assert.rejects(
    importCliDependency("@aws-sdk/client-ecr", "push", () => Promise.reject(new Error("syntax error in a module"))),
    (error: Error) => !(error instanceof ConfigurationError) && error.message === "syntax error in a module",
  );
  const loaded = await importCliDependency("@aws-sdk/client-ecr", "push", () => import("@aws-sdk/client-ecr"));
  assert.equal(typeof loaded.ECRClient, "function");
});
