import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { extractModelArchive } from "../models/artifacts/model-archive.js";
import type { CommandRunner } from "./command-runner.js";
import { modelDirInImage, modelsDirInImage } from "./dockerfile.js";
import { detectEngine, type RunningContainer } from "./engine.js";
import { ProjectError } from "./errors.js";
import { imageLabels } from "./image-labels.js";
import { repositoryName, versionTag } from "./image-tags.js";
import type { CleanedUpSignal, SignalSource } from "./interrupt-cleanup.js";
import type { EngineChoice } from "./options.js";
import { readPackageIdentity } from "./project.js";

/**
 * How long the server gets between SIGTERM and SIGKILL, as SageMaker gives it when it stops a
 * container (docs/container.md).
 */
export const stopGraceMs = 30_000;

/**
 * What `sagemaker-byoc run` runs.
 *
 * @example
 * ```ts
 * const options: RunImageOptions = { projectDir: "/work/app", image: undefined, model: undefined, models: undefined, port: 8080, env: {}, engine: "auto" };
 * ```
 */
export interface RunImageOptions {
  /** The project whose `package.json` names the image (`<package>:<version>`, as `build` tagged it). */
  readonly projectDir: string;
  readonly image: string | undefined;
  /** A model folder or `model.tar.gz` for /opt/ml/model; by default the image's own, else `<project>/model`. */
  readonly model: string | undefined;
  /**
   * Multi-model image: a folder of models (`<name>/model` each) for /opt/ml/models; by default
   * `<project>/models` when it exists, else none (the container starts with no model to load).
   */
  readonly models: string | undefined;
  /** The port on this machine that reaches the server. */
  readonly port: number;
  /** Set in the container, as CreateModel's `Environment` is. */
  readonly env: Readonly<Record<string, string>>;
  readonly engine: EngineChoice;
}

/**
 * `sagemaker-byoc run`: runs the image `build` made as SageMaker runs it: `serve` as its argument,
 * the model read-only at /opt/ml/model (a `model.tar.gz` is extracted first, as SageMaker does),
 * the server on `options.port`, the environment set, its logs followed. SIGINT (Ctrl-C) or SIGTERM
 * from `signals` stops it as SageMaker does, SIGTERM then SIGKILL after {@link stopGraceMs}; a
 * second one kills it at once. Whatever way it ends, the container and any extracted model are
 * removed. Resolves to the server's exit code.
 *
 * An image built with `--multi-model` (its label says so) runs as SageMaker runs it for a
 * multi-model endpoint: `SAGEMAKER_MULTI_MODEL=true` set (unless `env` sets it), a models folder
 * read-only at /opt/ml/models, and no /opt/ml/model unless `model` names one.
 *
 * @example
 * ```ts
 * const code = await runImage({ projectDir: process.cwd(), image: undefined, model: undefined, models: undefined, port: 8080, env: {}, engine: "auto" }, runner, process);
 * ```
 */
export async function runImage(options: RunImageOptions, runner: CommandRunner, signals: SignalSource): Promise<number> {
  const image = options.image ?? (await defaultImage(options.projectDir));
  const engine = await detectEngine(options.engine, runner);
  const cleanUp: (() => Promise<void>)[] = [() => engine.dispose()];
  try {
    const labels = await engine.labels(image);
    const multiModel = labels[imageLabels.multiModels] === "true";
    const model = multiModel && options.model === undefined ? undefined : await modelToMount(options, labels[imageLabels.model] === "baked");
    const temporary = model?.temporary;
    if (temporary !== undefined) cleanUp.push(() => rm(temporary, { recursive: true, force: true }));
    if (model !== undefined || !multiModel) {
      runner.report(
        model === undefined
          ? `model: the image's own, in ${modelDirInImage}`
          : `model: ${model.source}${model.temporary === undefined ? "" : ` (extracted into ${model.dir})`}, mounted read-only at ${modelDirInImage}`,
      );
    }
    const modelsDir = multiModel ? await modelsToMount(options) : undefined;
    if (multiModel) {
      runner.report(
        modelsDir === undefined
          ? `multi-model image: no models folder (--models, or <project>/models), so ${modelsDirInImage} is empty`
          : `multi-model image: models ${modelsDir}, mounted read-only at ${modelsDirInImage}`,
      );
    }
    // SageMaker sets it for an image labelled for multi-model endpoints; so does run.
    const env = multiModel ? { SAGEMAKER_MULTI_MODEL: "true", ...options.env } : options.env;
    const name = `${containerBaseName(image)}-run-${randomBytes(4).toString("hex")}`;
    const container = await engine.run({ image, name, hostPort: options.port, env, modelDir: model?.dir, modelsDir });
    cleanUp.push(() => container.remove());
    runner.report(
      multiModel
        ? `serving on http://localhost:${options.port} (POST /models with {"model_name": "<name>", "url": "${modelsDirInImage}/<name>/model"}, POST /models/<name>/invoke, GET /ping); Ctrl-C stops the server and removes the container`
        : `serving on http://localhost:${options.port} (POST /invocations, GET /ping); Ctrl-C stops the server and removes the container`,
    );
    return await untilExited(container, runner, signals);
  } finally {
    for (const action of cleanUp.reverse()) await action();
  }
}

/** Waits for the container to end, stopping it on the first signal and killing it on the second. */
async function untilExited(container: RunningContainer, runner: CommandRunner, signals: SignalSource): Promise<number> {
  let stops = 0;
  const onSignal = (signal: CleanedUpSignal) => () => {
    stops++;
    runner.report(stops === 1 ? `${signal}: stopping the server (SIGTERM; SIGKILL in ${stopGraceMs / 1000} s, or at a second Ctrl-C)` : `${signal}: killing the server`);
    void container.stop(stops === 1 ? stopGraceMs : 0);
  };
  const listeners = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") };
  signals.on("SIGINT", listeners.SIGINT);
  signals.on("SIGTERM", listeners.SIGTERM);
  try {
    const code = await container.exited;
    runner.report(`the server exited with code ${code}`);
    return code;
  } finally {
    signals.off("SIGINT", listeners.SIGINT);
    signals.off("SIGTERM", listeners.SIGTERM);
  }
}

async function defaultImage(projectDir: string): Promise<string> {
  const { name, version } = await readPackageIdentity(projectDir);
  return `${repositoryName(name)}:${versionTag(version)}`;
}

interface MountedModel {
  /** What the user named (or the default found). */
  readonly source: string;
  /** The folder mounted at /opt/ml/model. */
  readonly dir: string;
  /** The temporary folder an archive was extracted into, removed afterwards. */
  readonly temporary?: string;
}

async function modelToMount(options: RunImageOptions, baked: boolean): Promise<MountedModel | undefined> {
  if (options.model === undefined) {
    if (baked) return undefined;
    const conventional = join(options.projectDir, "model");
    if (await isDirectory(conventional)) return { source: conventional, dir: conventional };
    throw new ProjectError(
      `The image has no model baked in, and ${conventional} does not exist: pass --model <folder or model.tar.gz>, which is mounted at ${modelDirInImage} as SageMaker places ModelDataUrl there`,
    );
  }
  const path = resolve(options.model);
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error) {
    throw new ProjectError(`Model ${path} (--model) does not exist`, { cause: error });
  }
  if (isFolder) return { source: path, dir: path };
  if (!/\.(tar\.gz|tgz|tar)$/i.test(path)) throw new ProjectError(`Model ${path} (--model) must be a folder or a model.tar.gz archive`);
  // SageMaker extracts ModelDataUrl's archive into /opt/ml/model before it starts the container.
  const dir = await mkdtemp(join(tmpdir(), "sagemaker-byoc-run-model-"));
  try {
    await extractModelArchive(path, join(dir, "model"));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { source: path, dir: join(dir, "model"), temporary: dir };
}

/** The models folder of a multi-model run: `--models`, else `<project>/models` when it exists. */
async function modelsToMount(options: RunImageOptions): Promise<string | undefined> {
  if (options.models === undefined) {
    const conventional = join(options.projectDir, "models");
    return (await isDirectory(conventional)) ? conventional : undefined;
  }
  const path = resolve(options.models);
  if (!(await isDirectory(path))) throw new ProjectError(`Models folder ${path} (--models) does not exist or is not a folder`);
  return path;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** A container name from the image's: `registry:5000/team/iris:1.0.0` gives `iris`. */
function containerBaseName(image: string): string {
  const base = (image.split("/").at(-1) ?? image).split(/[:@]/)[0]?.replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "") ?? "";
  return base === "" ? "sagemaker-byoc" : base;
}
