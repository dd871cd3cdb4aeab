import { ConfigurationError } from "../errors.js";

/**
 * The project or the flags cannot make an image: no `package.json`, no toolkit dependency, a
 * missing handlers file or model, an output folder that is not ours. The CLI exits with 2, as for
 * any configuration error.
 *
 * @example
 * ```ts
 * throw new ProjectError("/work/app has no package.json: run build from your project's folder");
 * ```
 */
export class ProjectError extends ConfigurationError {
  override name = "ProjectError";
  readonly code = "PROJECT_INVALID";
}

/**
 * A handlers file (or a module next to it) is not valid TypeScript or JavaScript. The message
 * names the file, line and column of every error.
 *
 * @example
 * ```ts
 * throw new HandlersCompileError("code/inference.ts:3:9: Unexpected \"=\"");
 * ```
 */
export class HandlersCompileError extends ConfigurationError {
  override name = "HandlersCompileError";
  readonly code = "HANDLERS_COMPILE_FAILED";
}

/**
 * A failure of the build or push machinery (a tool, the registry, ECR) rather than of the
 * project. The CLI exits with 1.
 *
 * @example
 * ```ts
 * if (error instanceof ContainerError) console.error(error.code, error.message);
 * ```
 */
export class ContainerError extends Error {
  override name = "ContainerError";
  /** Machine-readable kind of failure. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Neither `docker` with an answering engine nor `buildah` is available, or the engine asked for
 * with `--engine` is not.
 *
 * @example
 * ```ts
 * throw new EngineNotFoundError("No container engine: docker is not installed and buildah is not installed");
 * ```
 */
export class EngineNotFoundError extends ContainerError {
  override name = "EngineNotFoundError";
  constructor(message: string) {
    super(message, "ENGINE_NOT_FOUND");
  }
}

/**
 * An external command (npm, docker, buildah, git) failed. The message ends with the last lines
 * it printed; `output` holds them too.
 *
 * @example
 * ```ts
 * throw new CommandFailedError("buildah build", 125, "Error: no such image");
 * ```
 */
export class CommandFailedError extends ContainerError {
  override name = "CommandFailedError";
  /** The command line, as printed. */
  readonly command: string;
  /** The exit code, or `null` when the command could not start or was killed by a signal. */
  readonly exitCode: number | null;
  /** The last lines the command printed (stdout and stderr). */
  readonly output: string;
  constructor(command: string, exitCode: number | null, output: string, options?: { cause?: unknown; reason?: string }) {
    const reason = options?.reason ?? `exited with code ${exitCode}`;
    const tail = output.trim() === "" ? "" : `:\n${output.trimEnd()}`;
    super(`${command} ${reason}${tail}`, "COMMAND_FAILED", options?.cause === undefined ? undefined : { cause: options.cause });
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
  }
}

/**
 * The registry refused the login (wrong or expired credentials, unreachable host, TLS).
 *
 * @example
 * ```ts
 * throw new RegistryLoginError("Login to 123.dkr.ecr.eu-west-1.amazonaws.com failed: unauthorized");
 * ```
 */
export class RegistryLoginError extends ContainerError {
  override name = "RegistryLoginError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "REGISTRY_LOGIN_FAILED", options);
  }
}

/**
 * An ECR API call failed (no credentials, no region, access denied, throttling, a malformed
 * answer). The message names the call, AWS's error and what to check.
 *
 * @example
 * ```ts
 * throw new EcrError("ECR CreateRepository failed: AccessDeniedException: ...");
 * ```
 */
export class EcrError extends ContainerError {
  override name = "EcrError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "ECR_FAILED", options);
  }
}

/**
 * What a failed command printed, or the error's message when it printed nothing or never ran.
 *
 * @example
 * ```ts
 * throw new RegistryLoginError(`Login failed: ${failureOutput(error)}`);
 * ```
 */
export function failureOutput(error: unknown): string {
  if (error instanceof CommandFailedError && error.output.trim() !== "") return error.output.trim();
  return error instanceof Error ? error.message : String(error);
}

/** What Go's HTTP client (buildah, docker) says when a registry answers an HTTPS request over plain HTTP. */
const plainHttpAnswer = /server gave HTTP response to HTTPS client/;

/**
 * How to reach a registry that speaks plain HTTP, when `error` says it does; `""` otherwise.
 * buildah takes `--tls-verify=false`; docker takes the engine's `insecure-registries` setting.
 *
 * @example
 * ```ts
 * plainHttpHint(error, "127.0.0.1:5000", "buildah"); // " 127.0.0.1:5000 speaks plain HTTP, not HTTPS: pass --tls-verify=false ..."
 * ```
 */
export function plainHttpHint(error: unknown, registry: string, engine: "docker" | "buildah"): string {
  if (!plainHttpAnswer.test(failureOutput(error))) return "";
  const how =
    engine === "buildah"
      ? "pass --tls-verify=false to push to it"
      : `add it to "insecure-registries" in the Docker engine's daemon.json and restart the engine (127.0.0.0/8 is allowed by default)`;
  return `\n${registry} speaks plain HTTP, not HTTPS: ${how}. Such a registry is for testing only: SageMaker pulls images over HTTPS.`;
}

/**
 * The error a failed push throws: `error` itself, or, when the registry of `destination`
 * (`host[:port]/repository:tag`) speaks plain HTTP, a {@link ContainerError} that says how to reach it.
 *
 * @example
 * ```ts
 * throw pushFailure(error, "127.0.0.1:5000/iris:1.0.0", "buildah"); // REGISTRY_PLAIN_HTTP, "... pass --tls-verify=false ..."
 * ```
 */
export function pushFailure(error: unknown, destination: string, engine: "docker" | "buildah"): unknown {
  const hint = plainHttpHint(error, destination.split("/")[0] ?? destination, engine);
  if (hint === "") return error;
  return new ContainerError(`${error instanceof Error ? error.message : String(error)}${hint}`, "REGISTRY_PLAIN_HTTP", { cause: error });
}
