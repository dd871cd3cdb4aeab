import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
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
 * Python inference toolkit's or any other: nothing beyond that contract is used. Requests go over
 * kept-alive connections and carry only the headers the job sets (fetch would add `Accept: *\/*`
 * to a request that should have none).
 *
 * @example
 * ```ts
 * const container = new ContainerClient("http://localhost:8080");
 * await container.waitUntilReady(AbortSignal.timeout(240_000));
 * const answer = await container.invoke(body, { contentType: "text/csv", accept: undefined }, AbortSignal.timeout(600_000));
 * container.close();
 * ```
 */
export class ContainerClient {
  readonly baseUrl: string;
  readonly #agent: HttpAgent;
  readonly #send: typeof httpRequest;

  /** `url` is the container's root (`http://host:8080`); a trailing `/invocations` is dropped. */
  constructor(url: string) {
    const parsed = new URL(url);
    parsed.pathname = parsed.pathname.replace(/\/invocations\/?$/, "").replace(/\/+$/, "");
    parsed.search = "";
    this.baseUrl = parsed.toString().replace(/\/+$/, "");
    const https = parsed.protocol === "https:";
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#send = https ? httpsRequest : httpRequest;
  }

  /** Asks `/ping` until it answers 200; rejects once `signal` fires (with the last answer in the message). */
  async waitUntilReady(signal: AbortSignal): Promise<void> {
    let last: string;
    for (;;) {
      try {
        const answer = await this.#request("GET", "/ping", undefined, {}, AbortSignal.any([signal, AbortSignal.timeout(2_000)]));
        if (answer.status === 200) return;
        last = `/ping answered ${answer.status}`;
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
      const answer = await this.#request("GET", "/execution-parameters", undefined, {}, signal);
      return answer.status === 200 ? readSuggestion(JSON.parse(answer.body.toString("utf8"))) : {};
    } catch (error) {
      if (signal.aborted) throw error;
      return {};
    }
  }

  /** One `POST /invocations`. Rejects on a network failure or when `signal` fires (the time limit). */
  invoke(body: Buffer, headers: TransformHeaders, signal: AbortSignal): Promise<InvocationAnswer> {
    const sent: Record<string, string> = {};
    if (headers.contentType !== undefined) sent["content-type"] = headers.contentType;
    if (headers.accept !== undefined) sent["accept"] = headers.accept;
    return this.#request("POST", "/invocations", body, sent, signal);
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  #request(method: string, path: string, body: Buffer | undefined, headers: Record<string, string>, signal: AbortSignal): Promise<InvocationAnswer> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const request = this.#send(`${this.baseUrl}${path}`, { method, agent: this.#agent, headers: body === undefined ? headers : { ...headers, "content-length": String(body.length) } });
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        outcome();
      };
      const onAbort = (): void => {
        request.destroy();
        settle(() => reject(signal.reason as Error));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      request.once("error", (error) => settle(() => reject(error)));
      request.once("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.once("end", () => settle(() => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), contentType: response.headers["content-type"] })));
        response.once("close", () => {
          if (!response.complete) settle(() => reject(Object.assign(new Error("The container closed the connection before its answer was complete"), { code: "ECONNRESET" })));
        });
      });
      request.end(body);
    });
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
