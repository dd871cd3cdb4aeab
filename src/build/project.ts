import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { conventionalHandlersFiles } from "../handlers/handlers-file.js";
import { ProjectError } from "./errors.js";

/** The package the image runs; the project must list it in `dependencies`. */
export const toolkitPackageName = "sagemaker-byoc-node";

/**
 * The fields of `package.json` that build and push read; the rest is kept as is.
 *
 * @example
 * ```ts
 * const manifest: PackageManifest = { name: "iris-endpoint", version: "1.0.0", dependencies: { "sagemaker-byoc-node": "^0.1.0" } };
 * ```
 */
export interface PackageManifest {
  readonly name?: unknown;
  readonly version?: unknown;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/**
 * The user's project as `build` sees it.
 *
 * @example
 * ```ts
 * const project = await readProject({ projectDir: ".", handlersPath: undefined, modelPath: "model" });
 * project.handlers?.file; // "/work/app/code/inference.ts"
 * ```
 */
export interface UserProject {
  readonly dir: string;
  /** `name` from `package.json`, else the folder's name. */
  readonly name: string;
  /** `version` from `package.json`, else `0.0.0`. */
  readonly version: string;
  readonly manifest: PackageManifest;
  /** `package-lock.json` or `npm-shrinkwrap.json`, when the project has one. */
  readonly lockfile: string | undefined;
  /** The project's `.npmrc` (registry, auth): used for the install, never copied into the image. */
  readonly npmrc: string | undefined;
  /** The project's `tsconfig.json`, whose compiler options apply when handlers are compiled. */
  readonly tsconfig: string | undefined;
  readonly handlers: ProjectHandlers | undefined;
  readonly model: ProjectModel | undefined;
}

/**
 * The handlers file and the folder shipped with it.
 *
 * @example
 * ```ts
 * const handlers: ProjectHandlers = { file: "/work/app/code/inference.ts", codeDir: "/work/app/code" };
 * ```
 */
export interface ProjectHandlers {
  readonly file: string;
  /** The handlers file's folder: everything in it goes into the image, TypeScript compiled. */
  readonly codeDir: string;
}

/**
 * A model baked into the image.
 *
 * @example
 * ```ts
 * const model: ProjectModel = { kind: "archive", path: "/work/app/model.tar.gz" };
 * ```
 */
export interface ProjectModel {
  readonly kind: "directory" | "archive";
  readonly path: string;
}

/**
 * What to read the project with (absolute paths, as {@link loadBuildOptions} resolves them).
 *
 * @example
 * ```ts
 * const selection: ProjectSelection = { projectDir: "/work/app", handlersPath: undefined, modelPath: undefined };
 * ```
 */
export interface ProjectSelection {
  readonly projectDir: string;
  readonly handlersPath: string | undefined;
  readonly modelPath: string | undefined;
}

/**
 * Reads and checks the project: `package.json` with the toolkit in `dependencies`, the handlers
 * file and the model to bake in, if any. The handlers file is found where `serve` finds it
 * (handlers-file.ts): the explicit one, else `code/inference.*` in the project, else in the model
 * folder given with `--model`, else none (the defaults serve the ONNX model). Throws {@link ProjectError} saying what is missing and how to fix it.
 *
 * @example
 * ```ts
 * const project = await readProject({ projectDir: "/work/app", handlersPath: undefined, modelPath: "/work/app/model" });
 * ```
 */
export async function readProject(selection: ProjectSelection): Promise<UserProject> {
  const dir = selection.projectDir;
  const manifest = await readManifest(dir);
  checkToolkitDependency(dir, manifest);
  const model = selection.modelPath === undefined ? undefined : await checkModel(dir, selection.modelPath);
  return {
    dir,
    ...packageIdentity(dir, manifest),
    manifest,
    lockfile: await firstFile(dir, ["npm-shrinkwrap.json", "package-lock.json"]),
    npmrc: await firstFile(dir, [".npmrc"]),
    tsconfig: await firstFile(dir, ["tsconfig.json"]),
    handlers: await findHandlers(dir, selection.handlersPath, model),
    model,
  };
}

/**
 * The image's name and version as `package.json` gives them.
 *
 * @example
 * ```ts
 * await readPackageIdentity("/work/app"); // { name: "iris-endpoint", version: "1.2.3" }
 * ```
 */
export async function readPackageIdentity(dir: string): Promise<{ name: string; version: string }> {
  return packageIdentity(dir, await readManifest(dir));
}

function packageIdentity(dir: string, manifest: PackageManifest): { name: string; version: string } {
  const name = typeof manifest.name === "string" && manifest.name.trim() !== "" ? manifest.name.trim() : basename(dir);
  const version = typeof manifest.version === "string" && manifest.version.trim() !== "" ? manifest.version.trim() : "0.0.0";
  return { name, version };
}

async function readManifest(dir: string): Promise<PackageManifest> {
  const path = join(dir, "package.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ProjectError(`${dir} has no package.json: run the command in your project's folder or pass that folder as its argument`, {
        cause: error,
      });
    }
    throw new ProjectError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ProjectError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ProjectError(`${path} must hold a JSON object`);
  return parsed as PackageManifest;
}

function checkToolkitDependency(dir: string, manifest: PackageManifest): void {
  if (manifest.dependencies?.[toolkitPackageName] !== undefined) return;
  const where = manifest.devDependencies?.[toolkitPackageName] !== undefined ? " (it is in devDependencies)" : "";
  throw new ProjectError(
    `${join(dir, "package.json")} must list ${toolkitPackageName} in "dependencies"${where}: the image runs its server ` +
      `and gets production dependencies only. Run: npm install ${toolkitPackageName}`,
  );
}

async function findHandlers(projectDir: string, explicit: string | undefined, model: ProjectModel | undefined): Promise<ProjectHandlers | undefined> {
  if (explicit === undefined) {
    // An archive's code/ folder is found by the server once SageMaker (or build) has extracted it.
    const codeDirs = [join(projectDir, "code"), ...(model?.kind === "directory" ? [join(model.path, "code")] : [])];
    for (const codeDir of codeDirs) {
      const file = await firstFile(codeDir, conventionalHandlersFiles);
      if (file !== undefined) return { file, codeDir };
    }
    return undefined;
  }
  if (!(await isFile(explicit))) throw new ProjectError(`Handlers file ${explicit} (--handlers) does not exist or is not a file`);
  const codeDir = dirname(explicit);
  if (codeDir === projectDir) {
    throw new ProjectError(
      `Handlers file ${explicit} sits at the project's root; move it into a folder of its own, such as code/: ` +
        "that folder is what goes into the image, and the project's root holds node_modules and other files that must not",
    );
  }
  return { file: explicit, codeDir };
}

async function checkModel(projectDir: string, path: string): Promise<ProjectModel> {
  let stats;
  try {
    stats = await stat(path);
  } catch (error) {
    throw new ProjectError(`Model ${path} (--model) does not exist`, { cause: error });
  }
  if (stats.isDirectory()) {
    // The project's own folder or one above it: the copy would take node_modules and the build output.
    if (relative(path, projectDir).split(/[\\/]/)[0] !== "..") {
      throw new ProjectError(`Model folder ${path} (--model) holds the project itself; pass the folder with the model files, such as model/`);
    }
    if ((await readdir(path)).length === 0) throw new ProjectError(`Model folder ${path} (--model) is empty`);
    return { kind: "directory", path };
  }
  if (/\.(tar\.gz|tgz|tar)$/i.test(path)) return { kind: "archive", path };
  throw new ProjectError(`Model ${path} (--model) must be a folder or a model.tar.gz archive`);
}

async function firstFile(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    const candidate = join(dir, name);
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
