/**
 * Throwaway user projects for the build tests: a package.json that depends on this repository's
 * toolkit packed with `npm pack` (as a user's project depends on the published package), small
 * local packages packed the same way, and a lockfile written by npm itself.
 */
import { execFile } from "node:child_process";
import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CommandRunner } from "../../../src/build/command-runner.js";

const run = promisify(execFile);

/** This repository. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The environment tests run tools with: the machine's (npm needs its certificate and proxy
 * settings to reach the registry), less the variables the toolkit itself reads (AWS_*, BYOC_*,
 * SAGEMAKER_*), which each test sets for itself.
 */
export const toolEnv: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !/^(AWS|BYOC|SAGEMAKER)_/.test(entry[0])),
);

/**
 * A runner whose report lines are kept for assertions.
 *
 * @example
 * ```ts
 * const { runner, lines } = collectingRunner();
 * ```
 */
export function collectingRunner(env: Readonly<Record<string, string>> = toolEnv): { runner: CommandRunner; lines: string[] } {
  const lines: string[] = [];
  return { runner: new CommandRunner(env, (line) => lines.push(line)), lines };
}

/**
 * Packs this repository as npm would publish it (from the built dist/, which `npm test` builds
 * first) into `dir`; returns the tarball's path.
 *
 * @example
 * ```ts
 * const tarball = await packToolkit("/tmp/work"); // "/tmp/work/sagemaker-byoc-node-0.1.0.tgz"
 * ```
 */
export async function packToolkit(dir: string): Promise<string> {
  try {
    await access(join(repoRoot, "dist", "cli.js"));
  } catch {
    throw new Error("dist/cli.js is missing: run `npm run build` (npm test does) before the container tests");
  }
  return packFolder(repoRoot, dir);
}

/**
 * A tiny package `name` packed into `dir`, exporting `name` as its default export.
 *
 * @example
 * ```ts
 * const tarball = await packLocalPackage("left-pad-lite", "/tmp/work");
 * ```
 */
export async function packLocalPackage(name: string, dir: string): Promise<string> {
  const source = join(dir, "sources", name);
  await mkdir(source, { recursive: true });
  await writeFile(join(source, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", main: "index.js" }));
  await writeFile(join(source, "index.js"), `export default ${JSON.stringify(name)};\n`);
  return packFolder(source, dir);
}

async function packFolder(folder: string, destination: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", destination, folder], { env: toolEnv, cwd: destination });
  const name = stdout.trim().split("\n").at(-1) ?? "";
  return join(destination, name);
}

/**
 * What goes into a throwaway project.
 *
 * @example
 * ```ts
 * const spec: ProjectSpec = { name: "iris-endpoint", dependencies: { "sagemaker-byoc-node": `file:${tarball}` }, files: { "code/inference.ts": "..." } };
 * ```
 */
export interface ProjectSpec {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly scripts?: Readonly<Record<string, string>>;
  /** Files by path relative to the project. */
  readonly files?: Readonly<Record<string, string>>;
  /** Write package-lock.json with npm (default true). */
  readonly lockfile?: boolean;
}

/**
 * Writes a project into `dir` and, unless told not to, its lockfile (`npm install
 * --package-lock-only`: no node_modules, as `build` needs none).
 *
 * @example
 * ```ts
 * await makeProject("/tmp/work/app", { dependencies: { "sagemaker-byoc-node": `file:${tarball}` } });
 * ```
 */
export async function makeProject(dir: string, spec: ProjectSpec): Promise<string> {
  await mkdir(dir, { recursive: true });
  const manifest = {
    name: spec.name ?? "test-endpoint",
    version: spec.version ?? "1.2.3",
    private: true,
    type: "module",
    ...(spec.scripts === undefined ? {} : { scripts: spec.scripts }),
    ...(spec.dependencies === undefined ? {} : { dependencies: spec.dependencies }),
    ...(spec.devDependencies === undefined ? {} : { devDependencies: spec.devDependencies }),
  };
  await writeFile(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  if (spec.lockfile ?? true) {
    await run("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, env: toolEnv });
  }
  return dir;
}
