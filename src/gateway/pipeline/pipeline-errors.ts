/**
 * One container of a multi-container endpoint failed: it answered 4xx/5xx, timed out, could not
 * be reached or dropped the connection. `cause` is what its invoker threw; the gateway answers it
 * as for a single container, naming `container` instead of `primary` (docs/pipelines.md).
 *
 * @example
 * ```ts
 * throw new ContainerFailedError("recognition", new ModelInvocationError(415, body, "application/json"));
 * ```
 */
export class ContainerFailedError extends Error {
  override name = "ContainerFailedError";
  readonly container: string;

  constructor(container: string, cause: unknown) {
    super(`Container ${container} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.container = container;
  }
}

/**
 * A container's answer is too large to be the next container's request (docs/pipelines.md:
 * SageMaker refuses hand-overs above 5 MB and says which containers).
 *
 * @example
 * ```ts
 * throw new HandOverTooLargeError("detection", "recognition", 6_000_000, 5 * 1024 * 1024);
 * ```
 */
export class HandOverTooLargeError extends Error {
  override name = "HandOverTooLargeError";
  readonly from: string;
  readonly to: string;
  readonly bytes: number;

  constructor(from: string, to: string, bytes: number, limitBytes: number) {
    super(
      `Received response from ${from} with status code 200. However, the request payload from ${from} to ${to} is ${bytes} bytes, ` +
        `which has exceeded the maximum limit of ${limitBytes / (1024 * 1024)} MB.`,
    );
    this.from = from;
    this.to = to;
    this.bytes = bytes;
  }
}
