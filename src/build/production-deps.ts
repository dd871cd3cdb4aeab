import { rmSync } from "node:fs";
import { copyFile, lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { CommandRunner } from "./command-runner.js";
import { ProjectError } from "./errors.js";
import { interruptCleanup } from "./interrupt-cleanup.js";
import { toolkitPackageName, type UserProject } from "./project.js";

/**
 * The production dependencies installed into the build context.
 *
 * @example
 * ```ts
 * const { packages, bytes }: InstalledDependencies = await installProductionDependencies(project, "ctx/program", runner);
 * ```
 */
export interface InstalledDependencies {
  /** Packages in `node_modules`. */
  readonly packages: number;
  /** Bytes of files in `node_modules`, before `.dockerignore` leaves other platforms' binaries out. */
  readonly bytes: number;
}

type Json = Record<string, unknown>;

const dependencyFields = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] as const;

/**
 * Installs the project's production dependencies into `programDir` on this machine, so building
 * the image needs no network beyond pulling the base image (and the GPU image's CUDA download):
 * `npm ci --omit=dev` with the project's lockfile (`npm install --omit=dev` without one), for
 * linux/x64 with glibc whatever the host (`--os`, `--cpu`, `--libc` pick the packages' prebuilt
 * binaries), and onnxruntime-node's CUDA download skipped (`ONNXRUNTIME_NODE_INSTALL=skip`; the
 * CPU binaries ship in its package).
 *
 * `package.json` and the lockfile are copied without the project's own `scripts` (its `prepare`
 * or `postinstall` would need sources and dev dependencies the context does not have), and
 * relative `file:` dependencies are rewritten to keep pointing at the same tarballs. The project's
 * `.npmrc` is used for the install and removed afterwards, also when SIGINT or SIGTERM stops the
 * install ({@link interruptCleanup}): registry tokens never reach the image.
 * Throws {@link ProjectError} when a dependency is linked from outside the context (a `file:`
 * folder: pack it instead) or the toolkit did not install.
 *
 * @example
 * ```ts
 * await installProductionDependencies(project, "/work/app/.sagemaker-byoc/build/program", runner);
 * ```
 */
export async function installProductionDependencies(project: UserProject, programDir: string, runner: CommandRunner): Promise<InstalledDependencies> {
  await mkdir(programDir, { recursive: true });
  const { scripts: _scripts, ...manifest } = project.manifest;
  await writeJson(join(programDir, "package.json"), rebaseDependencies(manifest, project.dir, programDir));
  if (project.lockfile !== undefined) {
    const lock = JSON.parse(await readFile(project.lockfile, "utf8")) as Json;
    await writeJson(join(programDir, basename(project.lockfile)), rebaseLockfile(lock, project.dir, programDir));
  }
  const npmrc = join(programDir, ".npmrc");
  const releaseNpmrc = interruptCleanup.register(() => rmSync(npmrc, { force: true }));
  try {
    if (project.npmrc !== undefined) await copyFile(project.npmrc, npmrc);
    const args = [project.lockfile === undefined ? "install" : "ci", "--omit=dev", "--no-audit", "--no-fund", "--os=linux", "--cpu=x64", "--libc=glibc"];
    await runner.run("npm", args, { cwd: programDir, stream: true, env: { ONNXRUNTIME_NODE_INSTALL: "skip" } });
  } finally {
    await rm(npmrc, { force: true });
    releaseNpmrc();
  }
  const modules = join(programDir, "node_modules");
  const installed = await inspectModules(programDir, modules);
  if (installed.outsideLinks.length > 0) {
    throw new ProjectError(
      `These dependencies are links to folders outside the build context, which the image cannot follow:\n` +
        installed.outsideLinks.map((link) => `  ${link}`).join("\n") +
        "\nDepend on a tarball instead (npm pack the folder, then depend on file:<package>.tgz) or publish the package.",
    );
  }
  try {
    await lstat(join(modules, toolkitPackageName, "package.json"));
  } catch (error) {
    throw new ProjectError(`npm did not install ${toolkitPackageName} into ${modules}; check the project's dependencies`, { cause: error });
  }
  return { packages: installed.packages, bytes: installed.bytes };
}

function rebaseDependencies(manifest: Json, from: string, to: string): Json {
  const rebased: Json = { ...manifest };
  for (const field of dependencyFields) {
    const dependencies = manifest[field];
    if (typeof dependencies !== "object" || dependencies === null) continue;
    rebased[field] = Object.fromEntries(
      Object.entries(dependencies as Record<string, unknown>).map(([name, spec]) => [name, typeof spec === "string" ? rebaseSpec(spec, from, to) : spec]),
    );
  }
  return rebased;
}

function rebaseLockfile(lock: Json, from: string, to: string): Json {
  const packages = lock["packages"] as Record<string, Json> | undefined;
  if (packages !== undefined) {
    lock["packages"] = Object.fromEntries(
      Object.entries(packages).map(([key, entry]) => {
        const rebased = key === "" ? rebaseDependencies(entry, from, to) : { ...entry };
        if (typeof entry["resolved"] === "string") rebased["resolved"] = rebaseSpec(entry["resolved"], from, to);
        return [key, rebased];
      }),
    );
  }
  // Lockfile versions 1 and 2 also list packages by name, with file: specs in version and resolved.
  const rebaseLegacy = (dependencies: unknown): void => {
    if (typeof dependencies !== "object" || dependencies === null) return;
    for (const entry of Object.values(dependencies as Record<string, Json>)) {
      for (const field of ["version", "resolved"]) {
        const value = entry[field];
        if (typeof value === "string") entry[field] = rebaseSpec(value, from, to);
      }
      rebaseLegacy(entry["dependencies"]);
    }
  };
  rebaseLegacy(lock["dependencies"]);
  return lock;
}

/**
 * A dependency spec with its relative path, if any, made relative to `to` instead of `from`:
 * `file:../lib.tgz` from /work/app becomes `file:../../../../lib.tgz` in its context's program/.
 */
function rebaseSpec(spec: string, from: string, to: string): string {
  const prefix = spec.startsWith("file:") ? "file:" : "";
  const path = spec.slice(prefix.length);
  const isRelativePath = path.startsWith("./") || path.startsWith("../") || (prefix !== "" && !isAbsolute(path) && !path.startsWith("~"));
  if (!isRelativePath) return spec;
  return `${prefix === "" ? "file:" : prefix}${relative(to, resolve(from, path))}`;
}

async function inspectModules(programDir: string, modules: string): Promise<{ packages: number; bytes: number; outsideLinks: string[] }> {
  let packages = 0;
  let bytes = 0;
  const outsideLinks: string[] = [];
  const root = `${await realpath(programDir)}${sep}`;
  let entries;
  try {
    entries = await readdir(modules, { recursive: true, withFileTypes: true });
  } catch {
    return { packages, bytes, outsideLinks };
  }
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) {
      const target = await realpath(path).catch(() => undefined);
      if (target === undefined || !target.startsWith(root)) outsideLinks.push(`${relative(programDir, path)} -> ${target ?? "(missing)"}`);
    } else if (entry.isFile()) {
      bytes += (await lstat(path)).size;
      if (entry.name === "package.json" && isPackageRoot(modules, entry.parentPath)) packages++;
    }
  }
  return { packages, bytes, outsideLinks };
}

/** True for `node_modules/<name>` and `node_modules/@scope/<name>`, at any depth. */
function isPackageRoot(modules: string, dir: string): boolean {
  const parts = relative(modules, dir).split(sep);
  const nameParts = parts.length >= 2 && parts.at(-2)?.startsWith("@") === true ? 2 : 1;
  const parent = parts.at(-1 - nameParts);
  return parent === undefined || parent === "node_modules";
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
