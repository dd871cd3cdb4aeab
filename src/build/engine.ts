import { BuildahEngine } from "./buildah-engine.js";
import type { CommandRunner } from "./command-runner.js";
import { DockerEngine } from "./docker-engine.js";
import { EngineNotFoundError } from "./errors.js";
import type { EngineChoice, RegistryCredentials } from "./options.js";

/**
 * One image build.
 *
 * @example
 * ```ts
 * const spec: BuildSpec = { contextDir: ".sagemaker-byoc/build", tags: ["iris-endpoint:1.2.3"], buildArgs: { BASE_IMAGE: "node:24-bookworm-slim" } };
 * ```
 */
export interface BuildSpec {
  /** The build context; its `Dockerfile` is used. */
  readonly contextDir: string;
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
}

/**
 * One container run as SageMaker runs the image: `serve` as its argument, the model read-only
 * at /opt/ml/model, the server's port reachable on this machine.
 *
 * @example
 * ```ts
 * const spec: RunSpec = { image: "iris-endpoint:1.2.3", name: "iris-endpoint-run-5f3a", hostPort: 8080, env: { SAGEMAKER_CONTAINER_LOG_LEVEL: "20" }, modelDir: "/work/app/model", modelsDir: undefined };
 * ```
 */
export interface RunSpec {
  readonly image: string;
  /** The container's name, unique on this machine. */
  readonly name: string;
  /** The port on this machine that reaches the server. */
  readonly hostPort: number;
  /** Set in the container, as CreateModel's `Environment` is. */
  readonly env: Readonly<Record<string, string>>;
  /** A folder of this machine mounted read-only at /opt/ml/model; none when the model is in the image. */
  readonly modelDir: string | undefined;
  /** Multi-model: a folder of this machine mounted read-only at `/opt/ml/models`; none to leave it empty. */
  readonly modelsDir: string | undefined;
}

/**
 * A container started by {@link ContainerEngine.run}, its output going to this process's.
 *
 * @example
 * ```ts
 * const container = await engine.run(spec);
 * process.once("SIGINT", () => void container.stop(30_000));
 * const code = await container.exited;
 * await container.remove();
 * ```
 */
export interface RunningContainer {
  /** Settles with the server's exit code (128 + the signal's number when a signal ended it). */
  readonly exited: Promise<number>;
  /** SIGTERM to the server, as SageMaker and `docker stop` send it; SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Removes the container once it has exited; nothing of it is left behind. */
  remove(): Promise<void>;
}

/**
 * The tool that builds, inspects and pushes images: docker (with an engine) or buildah.
 *
 * @example
 * ```ts
 * const engine = await detectEngine("auto", runner);
 * await engine.build({ contextDir, tags: ["app:1.0.0"], buildArgs: {} });
 * await engine.dispose();
 * ```
 */
export interface ContainerEngine {
  readonly name: "docker" | "buildah";
  /** Builds the context's Dockerfile for linux/amd64, showing the tool's progress. */
  build(spec: BuildSpec): Promise<void>;
  /** Logs in to `registry` (host[:port]); throws {@link RegistryLoginError} when refused. */
  login(registry: string, credentials: RegistryCredentials, tlsVerify: boolean): Promise<void>;
  /** Pushes the local `image` to `destination` (`registry/repository:tag`); resolves to the manifest digest when the tool reports it. */
  push(image: string, destination: string, tlsVerify: boolean): Promise<string | undefined>;
  /** The labels of a local image; throws {@link ContainerError} when there is no such image. */
  labels(image: string): Promise<Record<string, string>>;
  /** Starts a container of a local image, as SageMaker does (see {@link RunSpec}). */
  run(spec: RunSpec): Promise<RunningContainer>;
  /** Removes what the engine wrote for this run (buildah's temporary login file). */
  dispose(): Promise<void>;
}

type DockerProbe = { readonly ready: true } | { readonly ready: false; readonly reason: string };

/**
 * How long `docker info` may take before docker counts as having no engine: a daemon that hangs,
 * or a remote `DOCKER_HOST` that does not answer, would otherwise stall `build` and `push`.
 */
export const dockerProbeTimeoutMs = 10_000;

/**
 * Picks the engine: `docker` when asked for, or with `auto` when `docker info` answers within
 * `probeTimeoutMs` (a CLI without an engine behind it does not count); otherwise `buildah`.
 * Prints the choice and why. Throws {@link EngineNotFoundError} saying what is missing and what
 * to install.
 *
 * @example
 * ```ts
 * const engine = await detectEngine("auto", runner); // "engine: buildah (docker: Cannot connect to the Docker daemon ...)"
 * ```
 */
export async function detectEngine(choice: EngineChoice, runner: CommandRunner, probeTimeoutMs = dockerProbeTimeoutMs): Promise<ContainerEngine> {
  if (choice === "buildah") return useBuildah(runner, "--engine buildah", "");
  const docker = await probeDocker(runner, probeTimeoutMs);
  if (docker.ready) {
    runner.report(`engine: docker (${choice === "docker" ? "--engine docker" : "docker info answered"})`);
    return new DockerEngine(runner);
  }
  if (choice === "docker") throw new EngineNotFoundError(`--engine docker: docker is ${docker.reason}. Start Docker, or use --engine buildah`);
  return useBuildah(runner, `docker is ${docker.reason}`, `docker is ${docker.reason}; `);
}

async function useBuildah(runner: CommandRunner, why: string, dockerProblem: string): Promise<ContainerEngine> {
  if ((await runner.which("buildah")) !== undefined) {
    runner.report(`engine: buildah (${why})`);
    return new BuildahEngine(runner);
  }
  throw new EngineNotFoundError(
    `No container engine: ${dockerProblem}buildah is not installed. Install Docker (with its engine running) or buildah ` +
      "(Debian/Ubuntu: apt-get install buildah), or pass --no-build to write the build context only",
  );
}

async function probeDocker(runner: CommandRunner, timeoutMs: number): Promise<DockerProbe> {
  if ((await runner.which("docker")) === undefined) return { ready: false, reason: "not installed" };
  let info;
  try {
    info = await runner.run("docker", ["info", "--format", "{{.ServerVersion}}"], { announce: false, allowFailure: true, timeoutMs });
  } catch (error) {
    // Timed out, or could not start: either way nothing answers (CommandFailedError says which).
    return { ready: false, reason: `installed, but no engine answers (${(error as Error).message})` };
  }
  if (info.exitCode === 0) return { ready: true };
  const firstLine = `${info.stderr}\n${info.stdout}`.split("\n").find((line) => line.trim() !== "")?.trim() ?? `docker info exited with ${info.exitCode}`;
  return { ready: false, reason: `installed, but no engine answers (${firstLine})` };
}
