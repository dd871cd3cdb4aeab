import { join } from "node:path";
import type { CommandRunner } from "./command-runner.js";
import { imagePlatform, modelDirInImage, modelsDirInImage } from "./dockerfile.js";
import type { BuildSpec, ContainerEngine, RunningContainer, RunSpec } from "./engine.js";
import { ContainerError, failureOutput, plainHttpHint, pushFailure, RegistryLoginError } from "./errors.js";
import type { RegistryCredentials } from "./options.js";

/**
 * Builds and pushes with the docker CLI and its engine. The login is docker's own (stored as
 * `docker login` stores it, as `aws ecr get-login-password | docker login` would). Docker decides
 * plain HTTP per registry in the engine's settings, not per command: 127.0.0.0/8 is allowed by
 * default, other hosts need `insecure-registries` in daemon.json.
 *
 * @example
 * ```ts
 * const engine = new DockerEngine(runner);
 * await engine.build({ contextDir: ".sagemaker-byoc/build", tags: ["iris-endpoint:1.2.3"], buildArgs: {} });
 * ```
 */
export class DockerEngine implements ContainerEngine {
  readonly name = "docker";
  readonly #runner: CommandRunner;

  constructor(runner: CommandRunner) {
    this.#runner = runner;
  }

  async build(spec: BuildSpec): Promise<void> {
    const args = ["build", "--platform", imagePlatform, "-f", join(spec.contextDir, "Dockerfile")];
    for (const [name, value] of Object.entries(spec.buildArgs)) args.push("--build-arg", `${name}=${value}`);
    for (const tag of spec.tags) args.push("-t", tag);
    await this.#runner.run("docker", [...args, spec.contextDir], { stream: true });
  }

  async login(registry: string, credentials: RegistryCredentials, tlsVerify: boolean): Promise<void> {
    if (!tlsVerify) {
      this.#runner.report(`note: docker takes plain HTTP for ${registry} from the engine's insecure-registries setting, not from --tls-verify`);
    }
    try {
      await this.#runner.run("docker", ["login", "--username", credentials.username, "--password-stdin", registry], { input: credentials.password });
    } catch (error) {
      throw new RegistryLoginError(`Login to ${registry} failed: ${failureOutput(error)}${plainHttpHint(error, registry, "docker")}`, { cause: error });
    }
  }

  async push(image: string, destination: string): Promise<string | undefined> {
    await this.#runner.run("docker", ["tag", image, destination]);
    let output;
    try {
      output = await this.#runner.run("docker", ["push", destination], { stream: true });
    } catch (error) {
      throw pushFailure(error, destination, "docker");
    }
    return /digest: (sha256:[0-9a-f]{64})/.exec(output.stdout)?.[1];
  }

  async labels(image: string): Promise<Record<string, string>> {
    let output;
    try {
      output = await this.#runner.run("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", image], { announce: false });
    } catch (error) {
      throw new ContainerError(`No local image ${image}: build it first (sagemaker-byoc build) or name it with --image`, "IMAGE_NOT_FOUND", { cause: error });
    }
    return (JSON.parse(output.stdout) as Record<string, string> | null) ?? {};
  }

  /**
   * `docker run --rm` in the foreground, the port published on the server's port. `stop` is
   * `docker stop`, which sends SIGTERM to the server and SIGKILL after the grace period, as
   * SageMaker does; `remove` removes the container should `--rm` not have (a killed client).
   */
  async run(spec: RunSpec): Promise<RunningContainer> {
    const containerPort = spec.env["SAGEMAKER_BIND_TO_PORT"] ?? "8080";
    const args = ["run", "--rm", "--name", spec.name, "--platform", imagePlatform, "-p", `${spec.hostPort}:${containerPort}`];
    for (const [name, value] of Object.entries(spec.env)) args.push("--env", `${name}=${value}`);
    if (spec.modelDir !== undefined) args.push("--volume", `${spec.modelDir}:${modelDirInImage}:ro`);
    if (spec.modelsDir !== undefined) args.push("--volume", `${spec.modelsDir}:${modelsDirInImage}:ro`);
    const command = this.#runner.start("docker", [...args, spec.image, "serve"]);
    return {
      exited: command.exited,
      stop: async (graceMs) => {
        await this.#runner.run("docker", ["stop", "--time", String(Math.ceil(graceMs / 1000)), spec.name], { allowFailure: true });
      },
      remove: async () => {
        await command.exited;
        await this.#runner.run("docker", ["rm", "--force", spec.name], { allowFailure: true, announce: false });
      },
    };
  }

  async dispose(): Promise<void> {
    // docker keeps its login itself; nothing of this run to remove.
  }
}
