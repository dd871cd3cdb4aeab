import { access, copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ProjectError } from "../build/errors.js";
import { toolkitPackageName } from "../build/project.js";

/**
 * The templates `init` offers: the folders under `templates/` in the toolkit's package.
 *
 * @example
 * ```ts
 * const name: TemplateName = "image";
 * ```
 */
export type TemplateName = "onnx-tabular" | "image" | "transform";

/**
 * Each template's one-line description, for `init --help`.
 *
 * @example
 * ```ts
 * templateSummaries["image"]; // "an ONNX image classifier: PNG or JPEG in (decoded with sharp), ..."
 * ```
 */
export const templateSummaries: Readonly<Record<TemplateName, string>> = {
  "onnx-tabular": "an ONNX classifier on rows of numbers (the iris model): JSON or CSV in, labels out",
  image: "an ONNX image classifier: PNG or JPEG in (decoded with sharp), labels out",
  transform: "a model that is not ONNX: modelFn loads a JSON artifact, transformFn scores text",
};

/** Template dependencies, taken from the toolkit's own package.json so their versions are the tested ones. */
const templateDependencies: Readonly<Record<TemplateName, readonly string[]>> = { "onnx-tabular": [], image: ["sharp"], transform: [] };
/** What the scaffold's `npm test` runs on (tsx compiles TypeScript) and what editors type Node with. */
const scaffoldDevDependencies = ["tsx", "@types/node"] as const;

const packageRoot = fileURLToPath(new URL("../../", import.meta.url));
const templatesDir = join(packageRoot, "templates");
/** npm leaves dot-files such as .gitignore and .npmrc out of packages: the templates hold them without the dot. */
const dotFiles: Readonly<Record<string, string>> = { gitignore: ".gitignore", npmrc: ".npmrc" };
/** The placeholder `npm init` writes. */
const npmInitTestScript = 'echo "Error: no test specified" && exit 1';

/**
 * What a scaffold wrote.
 *
 * @example
 * ```ts
 * const { created, merged, kept } = await scaffoldProject({ dir: "iris-endpoint", template: "onnx-tabular" });
 * ```
 */
export interface ScaffoldResult {
  readonly dir: string;
  /** Files written, relative to `dir`. */
  readonly created: readonly string[];
  /** Existing files added to: package.json, .gitignore, .npmrc. */
  readonly merged: readonly string[];
  /** Existing files left as they were (a tsconfig.json of the project's own). */
  readonly kept: readonly string[];
  /** What changed in package.json, one line each. */
  readonly manifestChanges: readonly string[];
}

/**
 * Writes a project from a template into `dir` (made if missing): `code/inference.ts`, `model/`,
 * `test/`, `tsconfig.json`, `.gitignore`, `.npmrc` and `package.json`. An existing package.json
 * (from `npm init`) is completed rather than replaced: `"type": "module"` unless the package has
 * CommonJS code of its own, the `start` and `test` scripts, the toolkit, the template's
 * dependencies and tsx. Refuses, before writing anything, to overwrite a handlers, model or test
 * file that is already there. Throws {@link ProjectError}.
 *
 * @example
 * ```ts
 * await scaffoldProject({ dir: "iris-endpoint", template: "onnx-tabular" });
 * ```
 */
export async function scaffoldProject(options: { readonly dir: string; readonly template: TemplateName }): Promise<ScaffoldResult> {
  const dir = resolve(options.dir);
  const toolkit = JSON.parse(await readFile(join(packageRoot, "package.json"), "utf8")) as ToolkitManifest;
  const files = [...(await listTemplate("common")), ...(await listTemplate(options.template))];
  const conflicts: string[] = [];
  for (const file of files) {
    if (mergedFiles.has(file.target) || file.target === "tsconfig.json") continue;
    if (await exists(join(dir, file.target))) conflicts.push(file.target);
  }
  if (conflicts.length > 0) {
    throw new ProjectError(`${dir} already has ${conflicts.join(", ")}; init writes these files and overwrites none: move them away, or init another folder`);
  }

  await mkdir(dir, { recursive: true });
  const created: string[] = [];
  const merged: string[] = [];
  const kept: string[] = [];
  for (const file of files) {
    const target = join(dir, file.target);
    const existing = await readFile(target, "utf8").catch(() => undefined);
    if (existing === undefined) {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file.source, target);
      created.push(file.target);
    } else if (mergedFiles.has(file.target)) {
      if (await appendMissingLines(target, existing, await readFile(file.source, "utf8"))) merged.push(file.target);
    } else {
      kept.push(file.target);
    }
  }
  const manifest = await completeManifest(dir, toolkit, options.template);
  (manifest.created ? created : merged).push("package.json");
  return { dir, created, merged, kept, manifestChanges: manifest.changes };
}

interface ToolkitManifest {
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

type Manifest = Record<string, unknown> & {
  name?: unknown;
  type?: unknown;
  main?: unknown;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

/** Files completed line by line rather than refused when the project has them already. */
const mergedFiles = new Set([".gitignore", ".npmrc"]);

async function listTemplate(name: string): Promise<{ source: string; target: string }[]> {
  const root = join(templatesDir, name);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const source = join(entry.parentPath, entry.name);
      const path = relative(root, source);
      return { source, target: join(dirname(path), dotFiles[basename(path)] ?? basename(path)) };
    })
    .sort((a, b) => a.target.localeCompare(b.target));
}

async function appendMissingLines(path: string, existing: string, wanted: string): Promise<boolean> {
  const present = new Set(existing.split(/\r?\n/).map((line) => line.trim()));
  const missing = wanted.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#") && !present.has(line.trim()));
  if (missing.length === 0) return false;
  await writeFile(path, `${existing}${existing === "" || existing.endsWith("\n") ? "" : "\n"}${missing.join("\n")}\n`);
  return true;
}

async function completeManifest(dir: string, toolkit: ToolkitManifest, template: TemplateName): Promise<{ created: boolean; changes: string[] }> {
  const path = join(dir, "package.json");
  const text = await readFile(path, "utf8").catch(() => undefined);
  let manifest: Manifest;
  try {
    manifest = text === undefined ? { name: packageName(dir), version: "0.1.0", private: true } : (JSON.parse(text) as Manifest);
  } catch (error) {
    throw new ProjectError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const changes: string[] = [];
  if (manifest.type !== "module") {
    if (manifest.type === "commonjs" && typeof manifest.main === "string" && (await exists(join(dir, manifest.main)))) {
      changes.push(`"type" stays "commonjs" (${manifest.main} is CommonJS code of the package's own): the handlers and tests work either way`);
    } else {
      manifest.type = "module";
      changes.push(`"type": "module"`);
    }
  }
  const scripts = { ...manifest.scripts };
  const setScript = (name: string, command: string) => {
    scripts[name] = command;
    changes.push(`scripts.${name}: ${command}`);
  };
  if (scripts["start"] === undefined) setScript("start", "sagemaker-byoc serve --model-dir model");
  const testCommand = "node --import tsx --test test/*.test.ts";
  if (scripts["test"] === undefined || scripts["test"] === npmInitTestScript) setScript("test", testCommand);
  else if (scripts["test"] !== testCommand) setScript("test:handlers", testCommand);
  manifest.scripts = scripts;

  const dependencies = { ...manifest.dependencies };
  const addDependency = (record: Record<string, string>, field: string, name: string, spec: string | undefined) => {
    if (record[name] !== undefined || spec === undefined) return;
    record[name] = spec;
    changes.push(`${field}: ${name}@${spec}`);
  };
  addDependency(dependencies, "dependencies", toolkitPackageName, `^${toolkit.version}`);
  for (const name of templateDependencies[template]) addDependency(dependencies, "dependencies", name, toolkit.devDependencies?.[name] ?? toolkit.dependencies?.[name]);
  manifest.dependencies = dependencies;
  const devDependencies = { ...manifest.devDependencies };
  for (const name of scaffoldDevDependencies) {
    if (dependencies[name] === undefined) addDependency(devDependencies, "devDependencies", name, toolkit.dependencies?.[name] ?? toolkit.devDependencies?.[name]);
  }
  manifest.devDependencies = devDependencies;
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return { created: text === undefined, changes };
}

/** The folder's name as an npm package name: lowercase, and `-` for what npm does not allow. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+|[._-]+$/g, "");
  return name === "" ? "sagemaker-endpoint" : name;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

