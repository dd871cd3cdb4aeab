import type { CommandRunner } from "./command-runner.js";
import { deployWarnings, deploymentName, renderDeployHints, renderMultiModelHints, renderPipelineDeployHints, type DeployHintsInput } from "./deploy-hints.js";
import { importCliDependency } from "./cli-only-dependencies.js";
import { detectEngine, type ContainerEngine } from "./engine.js";
import { ContainerError } from "./errors.js";
import { imageLabels } from "./image-labels.js";
import { imageTags, repositoryName, versionTag } from "./image-tags.js";
import type { PushOptions } from "./options.js";
import { timed } from "./timed-step.js";
import { readPackageIdentity } from "./project.js";

/**
 * What `push` did.
 *
 * @example
 * ```ts
 * const { imageUris, digest, hints } = await pushImage(options, runner);
 * ```
 */
export interface PushResult {
  /** `registry/repository:tag` for every pushed tag; the last one names the commit. */
  readonly imageUris: readonly string[];
  /** The manifest digest, when the tool reported it. */
  readonly digest: string | undefined;
  /** True when the ECR repository did not exist and was created. */
  readonly repositoryCreated: boolean;
  /** The deployment calls, filled in ({@link renderDeployHints}). */
  readonly hints: string;
}

interface Destination {
  readonly repository: string;
  readonly region: string | undefined;
  readonly accountId: string | undefined;
  readonly repositoryArn: string | undefined;
  readonly created: boolean;
}

/**
 * `sagemaker-byoc push`: pushes a local image built by `build` to ECR (the repository is created
 * when missing, the login comes from ECR's authorization token) or, with `options.registry`, to
 * any OCI registry (SageMaker then pulls it through a VPC, which the deployment calls set up).
 * Tags it with the version and the git commit recorded in the image's labels, and returns the
 * image URIs and the deployment calls filled in; settings the image makes pointless (a
 * `--model-data` for a baked-in model) are reported as warnings.
 *
 * @example
 * ```ts
 * const result = await pushImage(loadPushOptions({ region: "eu-west-1" }, process.env, process.cwd()), runner);
 * console.log(result.imageUris.at(-1), result.hints);
 * ```
 */
export async function pushImage(options: PushOptions, runner: CommandRunner): Promise<PushResult> {
  const report = runner.report;
  const { image, repository } = await localImage(options);
  const engine = await detectEngine(options.engine, runner);
  try {
    const labels = await engine.labels(image);
    const tags = options.tags ?? tagsFromLabels(image, labels);
    const destination =
      options.registry === undefined
        ? await prepareEcr(options, repository, engine, runner)
        : await prepareRegistry(options, options.registry, repository, engine, runner);
    const imageUris: string[] = [];
    let digest: string | undefined;
    await timed(report, `Pushing ${image} as ${tags.join(", ")}`, async () => {
      for (const tag of tags) {
        const uri = `${destination.repository}:${tag}`;
        digest = (await engine.push(image, uri, options.tlsVerify)) ?? digest;
        imageUris.push(uri);
      }
    });
    const imageUri = imageUris.at(-1) as string;
    report(`pushed: ${imageUris.join(", ")}${digest === undefined ? "" : ` (${digest})`}`);
    const deployment: DeployHintsInput = {
      imageUri,
      imageRegistry: options.registry === undefined ? "ecr" : "private",
      region: destination.region,
      accountId: destination.accountId,
      repositoryArn: destination.repositoryArn,
      target: labels[imageLabels.target] === "gpu" ? "gpu" : "cpu",
      multiModel: labels[imageLabels.multiModels] === "true",
      bakedModel: labels[imageLabels.model] === "baked",
      defaultName: deploymentName(repository, tags.at(-1) as string),
      settings: options.deploy,
    };
    for (const warning of deployWarnings(deployment)) report(`warning: ${warning}`);
    const { pipeline } = options.deploy;
    const hints = pipeline === undefined ? renderDeployHints(deployment) + renderMultiModelHints(deployment) : renderPipelineDeployHints(deployment, pipeline);
    return { imageUris, digest, repositoryCreated: destination.created, hints };
  } finally {
    await engine.dispose();
  }
}

/** The image `build` tagged (`<package name>:<version>`) and the repository named after the package, unless given. */
async function localImage(options: PushOptions): Promise<{ image: string; repository: string }> {
  if (options.image !== undefined && options.repository !== undefined) return { image: options.image, repository: options.repository };
  const { name, version } = await readPackageIdentity(options.projectDir);
  return { image: options.image ?? `${repositoryName(name)}:${versionTag(version)}`, repository: options.repository ?? repositoryName(name) };
}

function tagsFromLabels(image: string, labels: Readonly<Record<string, string>>): string[] {
  const version = labels[imageLabels.version];
  if (version === undefined) {
    throw new ContainerError(
      `Image ${image} has no ${imageLabels.version} label, so it was not built by sagemaker-byoc build; name the tags with --tag`,
      "IMAGE_NOT_LABELLED",
    );
  }
  return imageTags(version, labels[imageLabels.revision]);
}

async function prepareEcr(options: PushOptions, repository: string, engine: ContainerEngine, runner: CommandRunner): Promise<Destination> {
  // Imported here: the ECR client stays out of the serving image (cli-only-dependencies.ts).
  const { createEcrClient, ecrRegion, ensureRepository, getEcrLogin } = await importCliDependency("@aws-sdk/client-ecr", "push", () => import("./ecr.js"));
  const client = createEcrClient({ region: options.region, endpoint: options.ecrEndpoint, credentials: options.awsCredentials });
  try {
    const region = await ecrRegion(client);
    const found = await timed(runner.report, `ECR repository ${repository} (${region})`, () => ensureRepository(client, repository));
    runner.report(`    ${found.created ? "created" : "exists"}: ${found.uri}`);
    const login = await getEcrLogin(client);
    await timed(runner.report, `Logging in to ${login.registry}`, () => engine.login(login.registry, login.credentials, options.tlsVerify));
    if (login.expiresAt !== undefined) runner.report(`    login valid until ${login.expiresAt.toISOString()}`);
    return { repository: found.uri, region, accountId: found.registryId, repositoryArn: found.arn, created: found.created };
  } finally {
    client.destroy();
  }
}

async function prepareRegistry(options: PushOptions, registry: string, repository: string, engine: ContainerEngine, runner: CommandRunner): Promise<Destination> {
  if (options.registryCredentials === undefined) {
    runner.report(`registry: ${registry}, with ${engine.name}'s existing login (set BYOC_REGISTRY_USERNAME and BYOC_REGISTRY_PASSWORD to log in)`);
  } else {
    const credentials = options.registryCredentials;
    await timed(runner.report, `Logging in to ${registry}`, () => engine.login(registry, credentials, options.tlsVerify));
  }
  return { repository: `${registry}/${repository}`, region: options.region, accountId: undefined, repositoryArn: undefined, created: false };
}
