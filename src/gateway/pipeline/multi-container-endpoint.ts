import type { InferenceExecutionMode } from "../../config/pipeline-config.js";
import type { EncodedBody } from "../../codecs/codec.js";
import { wholeBody, type InvocationRequest, type InvocationResult } from "../../pipeline/inference-pipeline.js";
import { ModelInvocationError, RuntimeApiError, validationError } from "../errors.js";
import type { Invoker } from "../invoker.js";
import { containerHostnamePattern } from "../../config/pipeline-config.js";
import { checkContainerCount } from "./containers.js";
import { ContainerFailedError, HandOverTooLargeError } from "./pipeline-errors.js";

/**
 * The largest answer one container may hand to the next: SageMaker's error for a larger one says
 * "5 MB" (docs/pipelines.md); read here as 5 MiB.
 */
export const maxHandOverBytes = 5 * 1024 * 1024;

/**
 * A container of the endpoint and how to reach it.
 *
 * @example
 * ```ts
 * const container: EndpointContainer = { hostname: "detection", invoker: new HttpInvoker("http://127.0.0.1:9001/invocations") };
 * ```
 */
export interface EndpointContainer {
  readonly hostname: string;
  readonly invoker: Invoker;
}

/**
 * How one container's call went: its status (0 when it gave no answer), how long it took
 * (SageMaker's `ContainerLatency`: sending the request, the container's work, reading its answer)
 * and how large its answer was.
 *
 * @example
 * ```ts
 * const timing: ContainerTiming = { container: "detection", status: 200, ms: 61.2, responseBytes: 20_480 };
 * ```
 */
export interface ContainerTiming {
  readonly container: string;
  readonly status: number;
  readonly ms: number;
  readonly responseBytes: number;
}

/**
 * Whether one container answers `/ping` 200.
 *
 * @example
 * ```ts
 * const readiness: ContainerReadiness = { container: "recognition", ready: false };
 * ```
 */
export interface ContainerReadiness {
  readonly container: string;
  readonly ready: boolean;
}

/**
 * A multi-container endpoint as SageMaker runs one (docs/pipelines.md). In `Serial` mode a
 * request goes through every container in order: the first gets the client's body, Content-Type
 * and custom attributes; each next one gets the previous answer as its body with that answer's
 * Content-Type; only the last one gets the client's Accept (the others answer in their
 * `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`); the last answer is the result. In `Direct` mode the
 * request goes, unchanged, to the one container `TargetContainerHostname` names. Every container
 * gets the same inference id. A container's failure rejects with {@link ContainerFailedError}
 * naming it; an answer too large to hand on with {@link HandOverTooLargeError}.
 *
 * @example
 * ```ts
 * const endpoint = new MultiContainerEndpoint("Serial", [
 *   { hostname: "pre", invoker: new HttpInvoker("http://127.0.0.1:9001/invocations") },
 *   { hostname: "model", invoker: new HttpInvoker("http://127.0.0.1:9002/invocations") },
 * ]);
 * const result = await endpoint.invoke(request, undefined, AbortSignal.timeout(60_000), (timing) => log.debug(timing));
 * ```
 */
export class MultiContainerEndpoint {
  readonly mode: InferenceExecutionMode;
  readonly containers: readonly EndpointContainer[];
  readonly #byHostname: ReadonlyMap<string, EndpointContainer>;
  readonly #maxHandOverBytes: number;
  /** Every container but the last: each hands its answer on. */
  readonly #earlier: readonly EndpointContainer[];
  readonly #last: EndpointContainer;

  /** Throws a ConfigurationError unless there are 2 to 15 containers. */
  constructor(mode: InferenceExecutionMode, containers: readonly EndpointContainer[], options: { readonly maxHandOverBytes?: number } = {}) {
    checkContainerCount(containers.length);
    this.mode = mode;
    this.containers = containers;
    this.#earlier = containers.slice(0, -1);
    this.#last = containers.at(-1) as EndpointContainer;
    this.#byHostname = new Map(containers.map((container) => [container.hostname, container]));
    this.#maxHandOverBytes = options.maxHandOverBytes ?? maxHandOverBytes;
  }

  /**
   * Runs `request` through the endpoint and resolves with the last container's answer.
   * `targetHostname` is the request's `TargetContainerHostname`: required in `Direct` mode and
   * refused in `Serial` mode with the ValidationErrors SageMaker answers. `onContainer` hears how
   * each container's call went, failed ones included.
   */
  async invoke(
    request: InvocationRequest,
    targetHostname: string | undefined,
    signal: AbortSignal,
    onContainer: (timing: ContainerTiming) => void = () => undefined,
  ): Promise<InvocationResult> {
    const target = this.#target(targetHostname);
    if (target !== undefined) return this.#call(target, request, signal, onContainer);
    let handed: InvocationRequest = { ...request, accept: undefined };
    for (const [index, container] of this.#earlier.entries()) {
      const result = await this.#call(container, handed, signal, onContainer);
      const next = this.containers[index + 1] as EndpointContainer;
      const body = asBuffer(await wholeBody(result.body));
      if (body.byteLength > this.#maxHandOverBytes) throw new HandOverTooLargeError(container.hostname, next.hostname, body.byteLength, this.#maxHandOverBytes);
      handed = { ...handed, body, contentType: result.contentType };
    }
    return this.#call(this.#last, { ...handed, accept: request.accept }, signal, onContainer);
  }

  /** Each container's readiness (its `/ping`), asked of all at once. */
  readiness(signal: AbortSignal): Promise<ContainerReadiness[]> {
    return Promise.all(
      this.containers.map(async ({ hostname, invoker }) => ({ container: hostname, ready: invoker.ready === undefined ? true : await invoker.ready(signal) })),
    );
  }

  #target(hostname: string | undefined): EndpointContainer | undefined {
    const names = this.containers.map((container) => container.hostname).join(", ");
    if (this.mode === "Serial") {
      if (hostname === undefined) return undefined;
      throw new RuntimeApiError(
        "ValidationError",
        400,
        `TargetContainerHostname ${hostname} is not allowed: this endpoint runs its containers as a serial inference pipeline (InferenceExecutionConfig Mode Serial), not for direct invocation.`,
      );
    }
    if (hostname === undefined) {
      throw new RuntimeApiError("ValidationError", 400, `This endpoint is configured for direct invocation: TargetContainerHostname must name one of its containers (${names}).`);
    }
    if (hostname.length > 63 || !containerHostnamePattern.test(hostname)) {
      throw validationError("targetContainerHostname", hostname, "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*");
    }
    const container = this.#byHostname.get(hostname);
    if (container === undefined) throw new RuntimeApiError("ValidationError", 400, `TargetContainerHostname ${hostname} names no container of this endpoint; its containers are ${names}.`);
    return container;
  }

  async #call(container: EndpointContainer, request: InvocationRequest, signal: AbortSignal, onContainer: (timing: ContainerTiming) => void): Promise<InvocationResult> {
    const started = performance.now();
    const report = (status: number, responseBytes: number): void =>
      onContainer({ container: container.hostname, status, ms: performance.now() - started, responseBytes });
    try {
      const answer = await container.invoker.invoke(request, signal);
      const result = { ...answer, body: await wholeBody(answer.body) };
      report(200, typeof result.body === "string" ? Buffer.byteLength(result.body) : result.body.byteLength);
      return result;
    } catch (error) {
      if (error instanceof ModelInvocationError) report(error.statusCode, error.body.byteLength);
      else report(0, 0);
      throw new ContainerFailedError(container.hostname, error);
    }
  }
}

function asBuffer(body: EncodedBody): Buffer {
  if (typeof body === "string") return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
