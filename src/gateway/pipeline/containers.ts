import { resolve } from "node:path";
import { containerHostnamePattern, containerLimits, type InferenceExecutionMode } from "../../config/pipeline-config.js";
import { ConfigurationError } from "../../errors.js";

const maxHostnameLength = 63;

/**
 * Where a container runs: a server already listening (its `/invocations` URL), or a model
 * directory that the gateway starts `serve` for on a port of its own.
 *
 * @example
 * ```ts
 * const running: ContainerTarget = { kind: "url", invocationsUrl: "http://127.0.0.1:9001/invocations" };
 * const started: ContainerTarget = { kind: "directory", modelDir: "/srv/models/detection" };
 * ```
 */
export type ContainerTarget =
  | { readonly kind: "url"; readonly invocationsUrl: string }
  | { readonly kind: "directory"; readonly modelDir: string };

/**
 * One container of a multi-container endpoint, as CreateModel's `Containers` describe it: its
 * hostname, where it runs, and the variables it is started with (`Environment`).
 *
 * @example
 * ```ts
 * const container: PipelineContainer = {
 *   hostname: "detection",
 *   target: { kind: "directory", modelDir: "/srv/models/detection" },
 *   environment: { SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: "application/x-ocr-lines+json" },
 * };
 * ```
 */
export interface PipelineContainer {
  readonly hostname: string;
  readonly target: ContainerTarget;
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Reads the `--container` and `--container-env` values into containers, checking what CreateModel
 * checks: 2 to 15 containers; hostnames of 1-63 letters, digits and hyphens, unique, and given for
 * every container or for none (then named `container-1`, `container-2`... by position); a
 * hostname for every container in `Direct` mode. Each target is an `http(s)://` URL (a server's
 * base URL or its `/invocations`) or a model directory. Variables apply to started containers only.
 * Throws a ConfigurationError naming what is wrong.
 *
 * @example
 * ```ts
 * parsePipelineContainers(["pre=http://127.0.0.1:9001", "model=./model"], ["model:SAGEMAKER_MODEL_SERVER_WORKERS=2"], "Serial");
 * ```
 */
export function parsePipelineContainers(specs: readonly string[], environment: readonly string[], mode: InferenceExecutionMode): PipelineContainer[] {
  checkContainerCount(specs.length);
  const parsed = specs.map(parseSpec);
  const named = parsed.filter((spec) => spec.hostname !== undefined).length;
  if (named !== 0 && named !== parsed.length) {
    throw new ConfigurationError(
      `Name every container or none: ${named} of ${parsed.length} have a hostname (CreateModel requires ContainerHostname on all containers once one has it)`,
    );
  }
  if (mode === "Direct" && named === 0) {
    throw new ConfigurationError("Direct mode needs a hostname for every container (--container <hostname>=<url or dir>): requests name their container by it");
  }
  const containers = parsed.map((spec, index) => {
    const environment: Record<string, string> = {};
    return { hostname: spec.hostname ?? `container-${index + 1}`, target: spec.target, environment };
  });
  const seen = new Set<string>();
  for (const { hostname } of containers) {
    if (seen.has(hostname)) throw new ConfigurationError(`Container hostname ${hostname} is given twice; hostnames must be unique`);
    seen.add(hostname);
  }
  for (const entry of environment) {
    const [, hostname = "", variable = "", value = ""] = /^([^:]*):([^=]*)=(.*)$/s.exec(entry) ?? [];
    const container = containers.find((candidate) => candidate.hostname === hostname);
    if (container === undefined) {
      throw new ConfigurationError(`--container-env ${entry}: no container is named ${JSON.stringify(hostname)}; the containers are ${containers.map((c) => c.hostname).join(", ")}`);
    }
    if (container.target.kind === "url") {
      throw new ConfigurationError(`--container-env ${entry}: ${hostname} is a running server (${container.target.invocationsUrl}); variables apply only to containers this command starts`);
    }
    container.environment[variable] = value;
  }
  return containers;
}

/**
 * Throws a ConfigurationError unless `count` is within CreateModel's 2 to 15 containers.
 *
 * @example
 * ```ts
 * checkContainerCount(16); // throws: "A multi-container endpoint runs 2 to 15 containers ...; got 16. ..."
 * ```
 */
export function checkContainerCount(count: number): void {
  if (count >= containerLimits.min && count <= containerLimits.max) return;
  throw new ConfigurationError(
    `A multi-container endpoint runs ${containerLimits.min} to ${containerLimits.max} containers (CreateModel's Containers); got ${count}. ` +
      "Give each with --container [<hostname>=]<url or model directory>, in order.",
  );
}

function parseSpec(spec: string): { hostname: string | undefined; target: ContainerTarget } {
  const trimmed = spec.trim();
  // A target may itself contain "=" (a query string): only a leading hostname before the first "=" counts.
  const equals = trimmed.indexOf("=");
  const candidate = equals > 0 ? trimmed.slice(0, equals) : undefined;
  const isName = candidate !== undefined && !candidate.includes("/") && !candidate.includes(":");
  const hostname = isName ? candidate : undefined;
  const rest = isName ? trimmed.slice(equals + 1).trim() : trimmed;
  if (hostname !== undefined && (hostname.length > maxHostnameLength || !containerHostnamePattern.test(hostname))) {
    throw new ConfigurationError(`Container hostname ${JSON.stringify(hostname)} must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit`);
  }
  if (rest === "") throw new ConfigurationError(`--container ${spec}: give a URL or a model directory after the hostname`);
  return { hostname, target: parseTarget(rest) };
}

function parseTarget(written: string): ContainerTarget {
  if (!/^https?:\/\//i.test(written)) return { kind: "directory", modelDir: resolve(written) };
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new ConfigurationError(`--container ${written} is not a valid URL`);
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/invocations";
  return { kind: "url", invocationsUrl: url.href };
}
