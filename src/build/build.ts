import { stat } from "node:fs/promises";
import { join } from "node:path";
import { writeBuildContext, type BuildContext } from "./build-context.js";
import { formatCommand, type CommandRunner } from "./command-runner.js";
import { imagePlatform } from "./dockerfile.js";
import { detectEngine } from "./engine.js";
import { imageTags, readGitRevision, repositoryName } from "./image-tags.js";
import type { BuildOptions } from "./options.js";
import { timed } from "./timed-step.js";
import { readProject } from "./project.js";

/**
 * What `build` made.
 *
 * @example
 * ```ts
 * const { context, tags, engine } = await buildImage(options, runner);
 * ```
 */
export interface BuildResult {
  readonly context: BuildContext;
  /** The image names (`name:tag`) the image got, or would get with `--no-build`. */
  readonly tags: readonly string[];
  /** The engine that built the image; `undefined` with `--no-build`. */
  readonly engine: "docker" | "buildah" | undefined;
}

/**
 * `sagemaker-byoc build`: reads the project, writes the build context, then builds the image
 * with docker or buildah (unless `options.build` is false) and prints how to run and push it.
 * The image is tagged `<package name>:<version>` and, in a git checkout,
 * `<package name>:<version>-<commit>`, unless `options.tags` says otherwise. A model baked into
 * a multi-model image is built as asked, with a warning: such an endpoint never reads it.
 *
 * @example
 * ```ts
 * const result = await buildImage(loadBuildOptions({ model: "model" }, process.cwd()), new CommandRunner(process.env, console.error));
 * ```
 */
export async function buildImage(options: BuildOptions, runner: CommandRunner): Promise<BuildResult> {
  const report = runner.report;
  const project = await readProject(options);
  const revision = await readGitRevision(project.dir, runner);
  const tags = options.tags ?? imageTags(project.version, revision).map((tag) => `${repositoryName(project.name)}:${tag}`);
  report(`project: ${project.name}@${project.version} in ${project.dir}${revision === undefined ? "" : ` (git ${revision})`}`);
  report(`handlers: ${project.handlers?.file ?? "none (the default handlers serve the ONNX model)"}`);
  report(`model: ${project.model === undefined ? "left for SageMaker to place in /opt/ml/model" : `baked in from ${project.model.path}`}`);
  if (options.multiModel && project.model !== undefined) {
    report(
      "warning: --model with --multi-model: a multi-model endpoint never reads /opt/ml/model; SageMaker loads each model " +
        "from CreateModel's S3 prefix into /opt/ml/models/<name>/model. Drop --model, or --multi-model for a single-model endpoint.",
    );
  }

  // The engine first: installing dependencies takes seconds to minutes, and is wasted without one.
  const engine = options.build ? await detectEngine(options.engine, runner) : undefined;
  let context: BuildContext;
  try {
    context = await writeBuildContext(
      project,
      { outputDir: options.outputDir, target: options.target, baseImage: options.baseImage, nodeImage: options.nodeImage, multiModel: options.multiModel, revision },
      runner,
    );
  } catch (error) {
    await engine?.dispose();
    throw error;
  }
  report(`build context: ${context.dir}`);
  const firstTag = tags[0] as string;
  if (engine === undefined) {
    const buildArgs = Object.entries(context.buildArgs).flatMap(([name, value]) => ["--build-arg", `${name}=${value}`]);
    report("Not building the image (--no-build). To build it:");
    report(`  ${formatCommand("docker", ["build", "--platform", imagePlatform, ...buildArgs, ...tags.flatMap((tag) => ["-t", tag]), context.dir])}`);
    return { context, tags, engine: undefined };
  }

  try {
    await timed(report, `Building ${tags.join(", ")} with ${engine.name}`, () => engine.build({ contextDir: context.dir, tags, buildArgs: context.buildArgs }));
  } finally {
    await engine.dispose();
  }
  report(`image: ${tags.join(", ")}`);
  report("Run it locally as SageMaker does (Ctrl-C stops it and removes the container), then push it:");
  report(`  ${await runCommand(project.dir, options.tags === undefined ? undefined : firstTag, context.bakedModel)}`);
  report("  curl localhost:8080/ping");
  report(`  ${pushCommand(project.dir, options.tags === undefined ? undefined : firstTag)}`);
  return { context, tags, engine: engine.name };
}

/** `run` finds `<package>:<version>` and `<project>/model` by itself; the rest must be named. */
async function runCommand(projectDir: string, image: string | undefined, bakedModel: boolean): Promise<string> {
  const command = formatCommand("sagemaker-byoc", ["run", ...(projectDir === process.cwd() ? [] : [projectDir]), ...(image === undefined ? [] : ["--image", image])]);
  // Without a baked-in model, run mounts one where SageMaker would place it.
  if (bakedModel || (await isDirectory(join(projectDir, "model")))) return command;
  return `${command} --model <model folder or model.tar.gz>`;
}

/** `push` finds `<package>:<version>` by itself; an image tagged with `--tag` must be named. */
function pushCommand(projectDir: string, image: string | undefined): string {
  return formatCommand("sagemaker-byoc", ["push", ...(projectDir === process.cwd() ? [] : [projectDir]), ...(image === undefined ? [] : ["--image", image])]);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
