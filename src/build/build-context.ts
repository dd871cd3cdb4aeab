import { chmod, copyFile, cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { extractionMarkerName, extractModelArchive } from "../models/artifacts/model-archive.js";
import { removeCliOnlyPackages } from "./cli-only-dependencies.js";
import type { CommandRunner } from "./command-runner.js";
import { compileHandlers } from "./compile-handlers.js";
import { generatedMarker, healthcheckScript, linkCheckScript, renderDockerfile, renderDockerignore, renderGitignore } from "./dockerfile.js";
import { ProjectError } from "./errors.js";
import type { BuildTarget } from "./options.js";
import { installProductionDependencies, type InstalledDependencies } from "./production-deps.js";
import { formatMegabytes, timed } from "./timed-step.js";
import type { ProjectModel, UserProject } from "./project.js";

/** The entrypoint script shipped with the toolkit (`container/serve`). */
const serveScript = fileURLToPath(new URL("../../container/serve", import.meta.url));
/** The image's health check script (`container/healthcheck`). */
const healthcheck = fileURLToPath(new URL(`../../container/${healthcheckScript}`, import.meta.url));
/** The GPU image's check of the CUDA provider's linkage. */
const linkCheck = fileURLToPath(new URL(`../../container/${linkCheckScript}`, import.meta.url));

/**
 * How to write a build context.
 *
 * @example
 * ```ts
 * const settings: ContextSettings = { outputDir: ".sagemaker-byoc/build", target: "cpu", baseImage: "node:24-bookworm-slim", nodeImage: "node:24-bookworm-slim", multiModel: false, revision: "4f2c9e1" };
 * ```
 */
export interface ContextSettings {
  readonly outputDir: string;
  readonly target: BuildTarget;
  readonly baseImage: string;
  readonly nodeImage: string;
  readonly multiModel: boolean;
  /** The git commit, recorded in the image's labels. */
  readonly revision: string | undefined;
  /**
   * Keep the toolkit's CLI-only dependencies (cli-only-dependencies.ts) in the image, which
   * leaves them out by default; for measuring what leaving them out saves.
   */
  readonly keepCliOnlyDependencies?: boolean;
}

/**
 * A written build context.
 *
 * @example
 * ```ts
 * const { dir, buildArgs } = await writeBuildContext(project, settings, runner);
 * ```
 */
export interface BuildContext {
  readonly dir: string;
  readonly bakedModel: boolean;
  /** The compiled handlers file under `program/code/`, or `undefined` without handlers. */
  readonly handlersEntry: string | undefined;
  /** The build arguments to pass: the base image (and the Node image for GPU). */
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly dependencies: InstalledDependencies;
}

/**
 * Writes the build context, a folder the user can read, rebuild from and commit:
 *
 * ```text
 * Dockerfile, .dockerignore, serve      the image recipe and its exec-form entrypoint
 * healthcheck                           the HEALTHCHECK: GET /ping, run by node
 * .gitignore                            keeps a stray .npmrc (registry tokens) out of git
 * program/package.json (+ lockfile)     the project's manifest, without its scripts
 * program/node_modules/                 production dependencies only, for linux/x64
 * program/code/                         the handlers folder, TypeScript compiled to JavaScript
 * model/                                the model baked into /opt/ml/model (with --model)
 * ```
 *
 * The folder is replaced as a whole; one that exists and was not written by `build` is refused
 * rather than deleted. Throws {@link ProjectError} or {@link HandlersCompileError}.
 *
 * @example
 * ```ts
 * const context = await writeBuildContext(await readProject(selection), settings, runner);
 * ```
 */
export async function writeBuildContext(project: UserProject, settings: ContextSettings, runner: CommandRunner): Promise<BuildContext> {
  const dir = resolve(settings.outputDir);
  const report = runner.report;
  await prepareOutputDir(dir, project.dir);
  // First, before npm runs with the project's .npmrc in program/: should the process die in a way
  // no clean-up survives (SIGKILL, power loss), committing the context still leaves the token out.
  await writeFile(join(dir, ".gitignore"), renderGitignore());
  await copyFile(serveScript, join(dir, "serve"));
  await chmod(join(dir, "serve"), 0o755);
  await copyFile(healthcheck, join(dir, healthcheckScript));
  await chmod(join(dir, healthcheckScript), 0o755);
  if (settings.target === "gpu") {
    await copyFile(linkCheck, join(dir, linkCheckScript));
    await chmod(join(dir, linkCheckScript), 0o755);
  }

  let handlersEntry: string | undefined;
  const { handlers } = project;
  if (handlers !== undefined) {
    await timed(report, `Compiling the handlers in ${handlers.codeDir}`, async () => {
      const compiled = await compileHandlers({
        codeDir: handlers.codeDir,
        entry: handlers.file,
        outDir: join(dir, "program", "code"),
        tsconfigRaw: project.tsconfig === undefined ? undefined : await readFile(project.tsconfig, "utf8"),
        packageType: project.manifest.type === "module" || project.manifest.type === "commonjs" ? project.manifest.type : undefined,
        exclude: [dir, ...(project.model === undefined ? [] : [project.model.path])],
      });
      handlersEntry = compiled.entry;
      report(`    ${compiled.compiled} TypeScript file(s) compiled, ${compiled.copied} other file(s) copied; handlers: code/${compiled.entry}`);
    });
  }

  const dependencies = await timed(report, "Installing production dependencies (linux/x64)", async () => {
    const installed = await installProductionDependencies(project, join(dir, "program"), runner);
    if (settings.keepCliOnlyDependencies === true) {
      report(`    ${installed.packages} packages, ${formatMegabytes(installed.bytes)}`);
      return installed;
    }
    const removed = await removeCliOnlyPackages(join(dir, "program"));
    const kept = { packages: installed.packages - removed.packages.length, bytes: installed.bytes - removed.bytes };
    report(`    ${kept.packages} packages, ${formatMegabytes(kept.bytes)}`);
    report(`    left out, used only by the push and invoke commands: ${removed.packages.join(", ") || "none"} (${formatMegabytes(removed.bytes)})`);
    return kept;
  });

  const { model } = project;
  if (model !== undefined) await timed(report, `Copying the model from ${model.path}`, () => copyModel(model, join(dir, "model"), dir));

  const bakedModel = model !== undefined;
  const dockerfile = renderDockerfile({
    target: settings.target,
    baseImage: settings.baseImage,
    nodeImage: settings.nodeImage,
    multiModel: settings.multiModel,
    bakedModel,
    handlersEntry,
    image: {
      name: project.name,
      version: project.version,
      revision: settings.revision,
      description: typeof project.manifest["description"] === "string" && project.manifest["description"].trim() !== "" ? project.manifest["description"].trim() : undefined,
    },
  });
  await writeFile(join(dir, "Dockerfile"), dockerfile);
  await writeFile(join(dir, ".dockerignore"), renderDockerignore());
  const buildArgs = settings.target === "gpu" ? { BASE_IMAGE: settings.baseImage, NODE_IMAGE: settings.nodeImage } : { BASE_IMAGE: settings.baseImage };
  return { dir, bakedModel, handlersEntry, buildArgs, dependencies };
}

async function prepareOutputDir(dir: string, projectDir: string): Promise<void> {
  if (!relative(dir, projectDir).startsWith("..")) {
    throw new ProjectError(`The build context ${dir} (--output) would hold the project itself; choose a folder of its own, such as .sagemaker-byoc/build`);
  }
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    entries = [];
  }
  if (entries.length > 0 && !(await isGeneratedContext(dir))) {
    throw new ProjectError(
      `${dir} (--output) already exists and was not written by sagemaker-byoc build (no generated Dockerfile in it); ` +
        "choose a new or empty folder: build replaces the whole folder",
    );
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

async function isGeneratedContext(dir: string): Promise<boolean> {
  try {
    return (await readFile(join(dir, "Dockerfile"), "utf8")).startsWith(generatedMarker);
  } catch {
    return false;
  }
}

async function copyModel(model: ProjectModel, destination: string, contextDir: string): Promise<void> {
  if (model.kind === "directory") {
    await cp(model.path, destination, { recursive: true, dereference: true, filter: (source) => resolve(source) !== contextDir });
    return;
  }
  // Extracted now, with the toolkit's checks against hostile archives, so the image holds what
  // SageMaker would place in /opt/ml/model and the server does not unpack it at every start.
  await extractModelArchive(model.path, destination);
  await rm(join(destination, extractionMarkerName), { force: true });
}
