import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { imageTags, readGitRevision, repositoryName, versionTag } from "../../src/build/image-tags.js";
import { collectingRunner, toolEnv } from "./helpers/project.js";

const root = await mkdtemp(join(tmpdir(), "byoc-tags-"));
after(() => rm(root, { recursive: true, force: true }));

test("repository names from package names: lowercase, scope kept as a path, odd characters replaced", () => {
  assert.equal(repositoryName("iris-endpoint"), "iris-endpoint");
  assert.equal(repositoryName("@acme/Iris_Model"), "acme/iris_model");
  assert.equal(repositoryName("my app!!"), "my-app");
  assert.equal(repositoryName("--weird..name--"), "weird-name");
  assert.equal(repositoryName("@/"), "sagemaker-model");
});

test("tags: the version (build metadata made legal) and the version with the commit", () => {
  assert.equal(versionTag("1.2.3"), "1.2.3");
  assert.equal(versionTag("1.2.3+build.5"), "1.2.3_build.5");
  assert.equal(versionTag("-1"), "1");
  assert.equal(versionTag("+"), "_");
  assert.equal(versionTag(""), "latest");
  assert.equal(versionTag("9".repeat(200)).length, 128);
  assert.deepEqual(imageTags("1.2.3", "4f2c9e1"), ["1.2.3", "1.2.3-4f2c9e1"]);
  assert.deepEqual(imageTags("1.2.3", "4f2c9e1-dirty"), ["1.2.3", "1.2.3-4f2c9e1-dirty"]);
  assert.deepEqual(imageTags("1.2.3", undefined), ["1.2.3"]);
});

test("the git revision of a real checkout: short commit, -dirty with uncommitted changes, none outside git", async () => {
  const { runner } = collectingRunner();
  const repo = join(root, "repo");
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { env: { ...toolEnv, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).toString().trim();
  execFileSync("git", ["init", "-q", repo]);
  assert.equal(await readGitRevision(repo, runner), undefined, "no commit yet");
  await writeFile(join(repo, "package.json"), "{}");
  git("add", "package.json");
  git("commit", "-q", "-m", "first");
  const commit = git("rev-parse", "--short=7", "HEAD");
  assert.equal(await readGitRevision(repo, runner), commit);
  await writeFile(join(repo, "untracked.txt"), "build output is not a change");
  assert.equal(await readGitRevision(repo, runner), commit);
  await writeFile(join(repo, "package.json"), '{"changed": true}');
  assert.equal(await readGitRevision(repo, runner), `${commit}-dirty`);
  assert.equal(await readGitRevision(root, runner), undefined, "not a checkout");
  const { runner: withoutGit } = collectingRunner({ PATH: join(root, "empty-bin") });
  assert.equal(await readGitRevision(repo, withoutGit), undefined, "git not installed");
});
