import type { CommandRunner } from "./command-runner.js";

/**
 * A registry repository name from a package name: lowercase, the npm scope's `@` dropped, other
 * characters registries refuse turned into `-`.
 *
 * @example
 * ```ts
 * repositoryName("@acme/Iris_Model"); // "acme/iris_model"
 * repositoryName("my app!"); // "my-app"
 * ```
 */
export function repositoryName(packageName: string): string {
  const parts = packageName
    .toLowerCase()
    .replace(/^@/, "")
    .split("/")
    .map((part) => part.replace(/[^a-z0-9._-]+/g, "-").replace(/[._-]{2,}/g, "-").replace(/^[._-]+|[._-]+$/g, ""))
    .filter((part) => part !== "");
  return parts.length === 0 ? "sagemaker-model" : parts.join("/");
}

/**
 * An image tag from a package version: characters tags refuse (`+` of build metadata) become
 * `_`, at most 128 characters.
 *
 * @example
 * ```ts
 * versionTag("1.2.3+build.5"); // "1.2.3_build.5"
 * ```
 */
export function versionTag(version: string): string {
  const tag = version.replace(/[^\w.-]/g, "_").replace(/^[.-]+/, "").slice(0, 128);
  return tag === "" ? "latest" : tag;
}

/**
 * The tags an image gets: its version, and its version with the git commit (an immutable name
 * for deployments) when there is one.
 *
 * @example
 * ```ts
 * imageTags("1.2.3", "4f2c9e1"); // ["1.2.3", "1.2.3-4f2c9e1"]
 * imageTags("1.2.3", undefined); // ["1.2.3"]
 * ```
 */
export function imageTags(version: string, revision: string | undefined): string[] {
  const base = versionTag(version);
  return revision === undefined ? [base] : [base, `${base}-${revision}`.slice(0, 128)];
}

/**
 * The short commit of the project's git checkout, with `-dirty` when tracked files under the
 * project have uncommitted changes; `undefined` outside a git repository or without git.
 *
 * @example
 * ```ts
 * await readGitRevision("/work/app", runner); // "4f2c9e1" or "4f2c9e1-dirty"
 * ```
 */
export async function readGitRevision(dir: string, runner: CommandRunner): Promise<string | undefined> {
  if ((await runner.which("git")) === undefined) return undefined;
  const quiet = { announce: false, allowFailure: true } as const;
  const head = await runner.run("git", ["-C", dir, "rev-parse", "--short=7", "HEAD"], quiet);
  if (head.exitCode !== 0) return undefined;
  const status = await runner.run("git", ["-C", dir, "status", "--porcelain", "--untracked-files=no", "--", "."], quiet);
  const dirty = status.exitCode !== 0 || status.stdout.trim() !== "";
  return `${head.stdout.trim()}${dirty ? "-dirty" : ""}`;
}
