import { containerBatchStrategies, type ContainerBatchStrategy } from "../config/batch-settings.js";
import { sleep } from "../gateway/async/retry.js";

/**
 * What a container suggested at `GET /execution-parameters` (any field may be missing), or
 * nothing when it does not implement it: the route is optional (docs/batch.md).
 *
 * @example
 * ```ts
 * const suggested: SuggestedParameters = { maxConcurrentTransforms: 2, batchStrategy: "MULTI_RECORD", maxPayloadInMb: 6 };
 * ```
 */
export interface SuggestedParameters {
  readonly maxConcurrentTransforms?: number;
  readonly batchStrategy?: ContainerBatchStrategy;
  readonly maxPayloadInMb?: number;
}

/**
 * The answer to one `/invocations` request.
 *
 * @example
 * ```ts
 * const answer: InvocationAnswer = { status: 200, body: Buffer.from("0.9\n"), contentType: "text/csv" };
 * ```
 */
export interface InvocationAnswer {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string | undefined;
}

/**
 * The headers of a transform request: `Content-Type` and `Accept` as the job sets them, each
 * left out when the job does not (SageMaker's requests may come without Accept).
 *
 * @example
 * ```ts
 * const headers: TransformHeaders = { contentType: "text/csv", accept: undefined };
 * ```
 */
export interface TransformHeaders {
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
}

/** How often `/ping` is asked while waiting for the container. */
const pingIntervalMs = 250;

/**
 * The HTTP side of a transform job: a container that speaks SageMaker's contract (`GET /ping`,
 * optional `GET /execution-parameters`, `POST /invocations`), whether this toolkit's server, the
 * Python inference toolkit's or any other: nothing beyond that contract is used.
 *
 * @example
 * ```ts
 * const container = new ContainerClient("http://localhost:8080");
 * await container.waitUntilReady(AbortSignal.timeout(240_000));
 * const answer = await container.invoke(body, { contentType: "text/csv", accept: undefined }, AbortSignal.timeout(600_000));
 * ```
 */
export class ContainerClient {
  readonly baseUrl: string;

  /** `url` is the container's root (`http://host:8080`); a trailing `/invocations` is dropped. */
  constructor(url: string) {
    const parsed = new URL(url);
    parsed.pathname = parsed.pathname.replace(/\/invocations\/?$/, "").replace(/\/+$/, "");
    parsed.search = "";
    this.baseUrl = parsed.toString().replace(/\/+$/, "");
  }

  /** Asks `/ping` until it answers 200; rejects with the signal's reason (and the last answer). */
  async waitUntilReady(signal: AbortSignal): Promise<void> {
    let last: string;
    for (;;) {
      try {
        const response = await fetch(`${this.baseUrl}/ping`, { signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) });
        await response.arrayBuffer();
        if (response.ok) return;
        last = `/ping answered ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(pingIntervalMs, signal).catch(() => undefined);
      if (signal.aborted) throw new Error(`The container at ${this.baseUrl} did not become ready (${last})`, { cause: signal.reason });
    }
  }

  /** `GET /execution-parameters`, or `{}` when the container does not answer it with valid JSON. */
  async executionParameters(signal: AbortSignal): Promise<SuggestedParameters> {
    try {
      const response = await fetch(`${this.baseUrl}/execution-parameters`, { signal });
      if (!response.ok) {
        await response.arrayBuffer();
        return {};
      }
      return readSuggestion(await response.json());
    } catch (error) {
      if (signal.aborted) throw error;
      return {};
    }
  }

  /** One `POST /invocations`. Rejects on a network failure or when `signal` fires (the time limit). */
  async invoke(body: Buffer, headers: TransformHeaders, signal: AbortSignal): Promise<InvocationAnswer> {
    const sent: Record<string, string> = {};
    if (headers.contentType !== undefined) sent["content-type"] = headers.contentType;
    if (headers.accept !== undefined) sent["accept"] = headers.accept;
    const response = await fetch(`${this.baseUrl}/invocations`, { method: "POST", body, headers: sent, signal });
    return { status: response.status, body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get("content-type") ?? undefined };
  }
}

function readSuggestion(value: unknown): SuggestedParameters {
  if (typeof value !== "object" || value === null) return {};
  const record = value as Record<string, unknown>;
  const positive = (field: unknown, min: number): number | undefined => (Number.isInteger(field) && (field as number) >= min ? (field as number) : undefined);
  const strategy = record["BatchStrategy"];
  const concurrency = positive(record["MaxConcurrentTransforms"], 1);
  const payload = positive(record["MaxPayloadInMB"], 0);
  return {
    ...(concurrency === undefined ? {} : { maxConcurrentTransforms: concurrency }),
    ...(payload === undefined ? {} : { maxPayloadInMb: payload }),
    ...(containerBatchStrategies.includes(strategy as ContainerBatchStrategy) ? { batchStrategy: strategy as ContainerBatchStrategy } : {}),
  };
}
