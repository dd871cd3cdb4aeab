import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerError, failureOutput, plainHttpHint, pushFailure, RegistryLoginError } from "./errors.js";
import type { CommandRunner } from "./command-runner.js";
import { imagePlatform, modelDirInImage, modelsDirInImage } from "./dockerfile.js";
import type { BuildSpec, ContainerEngine, RunningContainer, RunSpec } from "./engine.js";
import { interruptCleanup } from "./interrupt-cleanup.js";
import { descendantProcesses, type ProcessEntry } from "./process-tree.js";
import type { RegistryCredentials } from "./options.js";

const authFileName = "auth.json";

/**
 * Builds and pushes with buildah: no daemon, works as root or rootless, and builds the CPU
 * image's Dockerfile (no `RUN`) without any container runtime. Isolation and storage follow
 * buildah's own settings (`BUILDAH_ISOLATION`, `STORAGE_DRIVER`, containers.conf). A login is
 * kept in a temporary auth file for this run only, removed by {@link dispose}, or on SIGINT or
 * SIGTERM by {@link interruptCleanup}.
 *
 * @example
 * ```ts
 * const engine = new BuildahEngine(runner);
 * await engine.push("iris-endpoint:1.2.3", "127.0.0.1:5000/iris-endpoint:1.2.3", false);
 * ```
 */
export class BuildahEngine implements ContainerEngine {
  readonly name = "buildah";
  readonly #runner: CommandRunner;
  #authDir: string | undefined;
  #releaseAuthDir: (() => void) | undefined;

  constructor(runner: CommandRunner) {
    this.#runner = runner;
  }

  async build(spec: BuildSpec): Promise<void> {
    // Docker's image format: HEALTHCHECK exists only there (OCI's has no such field), and ECR
    // stores it as it stores docker's own pushes (docs/container.md).
    const args = ["build", "--platform", imagePlatform, "--format", "docker", "--layers", "-f", join(spec.contextDir, "Dockerfile")];
    for (const [name, value] of Object.entries(spec.buildArgs)) args.push("--build-arg", `${name}=${value}`);
    for (const tag of spec.tags) args.push("-t", tag);
    await this.#runner.run("buildah", [...args, spec.contextDir], { stream: true });
  }

  async login(registry: string, credentials: RegistryCredentials, tlsVerify: boolean): Promise<void> {
    if (this.#authDir === undefined) {
      const authDir = await mkdtemp(join(tmpdir(), "sagemaker-byoc-auth-"));
      this.#authDir = authDir;
      this.#releaseAuthDir = interruptCleanup.register(() => rmSync(authDir, { recursive: true, force: true }));
    }
    const args = ["login", "--authfile", join(this.#authDir, authFileName), "--username", credentials.username, "--password-stdin", `--tls-verify=${tlsVerify}`, registry];
    try {
      await this.#runner.run("buildah", args, { input: credentials.password });
    } catch (error) {
      throw new RegistryLoginError(`Login to ${registry} failed: ${failureOutput(error)}${plainHttpHint(error, registry, "buildah")}`, { cause: error });
    }
  }

  async push(image: string, destination: string, tlsVerify: boolean): Promise<string | undefined> {
    const workDir = await mkdtemp(join(tmpdir(), "sagemaker-byoc-push-"));
    const digestFile = join(workDir, "digest");
    try {
      const auth = this.#authDir === undefined ? [] : ["--authfile", join(this.#authDir, authFileName)];
      const args = ["push", ...auth, `--tls-verify=${tlsVerify}`, "--digestfile", digestFile, image, `docker://${destination}`];
      try {
        await this.#runner.run("buildah", args, { stream: true });
      } catch (error) {
        throw pushFailure(error, destination, "buildah");
      }
      return (await readFile(digestFile, "utf8")).trim() || undefined;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async labels(image: string): Promise<Record<string, string>> {
    let output;
    try {
      output = await this.#runner.run("buildah", ["inspect", "--type", "image", image], { announce: false });
    } catch (error) {
      throw new ContainerError(`No local image ${image} in buildah's storage: build it first (sagemaker-byoc build) or name it with --image`, "IMAGE_NOT_FOUND", {
        cause: error,
      });
    }
    const inspected = JSON.parse(output.stdout) as { OCIv1?: { config?: { Labels?: Record<string, string> | null } } };
    return inspected.OCIv1?.config?.Labels ?? {};
  }

  /**
   * `buildah from`, then `buildah run` in the foreground with the image's ENTRYPOINT and `serve`
   * (buildah run does not apply the ENTRYPOINT). buildah publishes no ports: the container shares
   * this machine's network (`--network host`, chroot isolation, which needs no runc) and the
   * server listens on the host port through `SAGEMAKER_BIND_TO_PORT`. A signal sent to `buildah
   * run` kills the server outright, so `stop` finds the server below it (/proc) and sends SIGTERM
   * to it alone, then SIGKILL to the whole tree after the grace period. `remove` is `buildah rm`.
   */
  async run(spec: RunSpec): Promise<RunningContainer> {
    const inspected = await this.#runner.run("buildah", ["inspect", "--type", "image", spec.image], { announce: false }).catch((error: unknown) => {
      throw new ContainerError(`No local image ${spec.image} in buildah's storage: build it first (sagemaker-byoc build) or name it with --image`, "IMAGE_NOT_FOUND", {
        cause: error,
      });
    });
    const entrypoint = (JSON.parse(inspected.stdout) as { OCIv1?: { config?: { Entrypoint?: string[] | null } } }).OCIv1?.config?.Entrypoint ?? [];
    // Ctrl-C while the container is made removes it; once it runs, the caller's handling takes over.
    const releaseOnInterrupt = interruptCleanup.register(() => spawnSync("buildah", ["rm", spec.name], { stdio: "ignore" }));
    let command;
    try {
      await this.#runner.run("buildah", ["from", "--name", spec.name, spec.image]);
      const args = ["run", "--isolation", "chroot", "--network", "host", "--env", `SAGEMAKER_BIND_TO_PORT=${spec.hostPort}`];
      for (const [name, value] of Object.entries(spec.env)) if (name !== "SAGEMAKER_BIND_TO_PORT") args.push("--env", `${name}=${value}`);
      if (spec.modelDir !== undefined) args.push("--volume", `${spec.modelDir}:${modelDirInImage}:ro`);
      if (spec.modelsDir !== undefined) args.push("--volume", `${spec.modelsDir}:${modelsDirInImage}:ro`);
      command = this.#runner.start("buildah", [...args, spec.name, "--", ...entrypoint, "serve"]);
    } finally {
      releaseOnInterrupt();
    }
    // Cleared once it has exited: process IDs of ended processes may belong to others later.
    const killTimers: NodeJS.Timeout[] = [];
    void command.exited.then(() => killTimers.forEach((timer) => clearTimeout(timer)));
    return {
      exited: command.exited,
      stop: async (graceMs) => {
        const tree = command.pid === undefined ? [] : await descendantProcesses(command.pid);
        const server = containerMainProcess(tree);
        if (server === undefined) {
          command.kill("SIGKILL");
          return;
        }
        signal(server.pid, "SIGTERM");
        killTimers.push(
          setTimeout(() => {
            command.kill("SIGKILL");
            for (const entry of tree) signal(entry.pid, "SIGKILL");
          }, graceMs),
        );
      },
      remove: async () => {
        await command.exited;
        await this.#runner.run("buildah", ["rm", spec.name], { allowFailure: true });
      },
    };
  }

  async dispose(): Promise<void> {
    if (this.#authDir !== undefined) await rm(this.#authDir, { recursive: true, force: true });
    this.#releaseAuthDir?.();
    this.#authDir = undefined;
    this.#releaseAuthDir = undefined;
  }
}


/** The runtimes between `buildah run` and the container's own process. */
const runtimeProcess = /^(buildah|buildah-chroot-runtime|buildah-chroot-exec|runc|crun|conmon)$/;

/** The container's main process: the first one below `buildah run` that is not a runtime. */
function containerMainProcess(tree: readonly ProcessEntry[]): ProcessEntry | undefined {
  return tree.find((entry) => !runtimeProcess.test((entry.argv[0] ?? "").split("/").at(-1) ?? ""));
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ended already
  }
}
