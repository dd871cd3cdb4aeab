import type { Logger } from "pino";
import type { InvocationRequest, InvocationResult } from "../../pipeline/inference-pipeline.js";
import type { RunningServer } from "../../server.js";
import { InvokerUnavailableError, ModelInvocationError } from "../errors.js";
import { answeredAsOverHttp, postInvocation } from "../invoker.js";

/**
 * A multi-model container as SageMaker's front end drives it (docs/multi-model.md): load a model
 * from a directory under a name, unload it, invoke it. A container's 4xx/5xx rejects with
 * {@link ModelInvocationError} carrying its status and body (507 when the model does not fit, 404
 * when it is not loaded, 409 when it is loaded already); a container that cannot be reached
 * rejects with {@link InvokerUnavailableError}.
 *
 * @example
 * ```ts
 * const host: ModelHost = new HttpModelHost("http://model:8080");
 * await host.load("m1", "/opt/ml/models/m1/model", "iris.tar.gz", signal);
 * const result = await host.invoke("m1", request, signal);
 * ```
 */
export interface ModelHost {
  /** Where it sends requests, for logs. */
  readonly target: string;
  /** `POST /models`; `targetModel` goes along as `X-Amzn-SageMaker-Target-Model`, for the container's logs. */
  load(modelName: string, url: string, targetModel: string, signal: AbortSignal): Promise<void>;
  /** `DELETE /models/{name}`. */
  unload(modelName: string, signal: AbortSignal): Promise<void>;
  /** `POST /models/{name}/invoke`. */
  invoke(modelName: string, request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult>;
}

const maxCachedUrls = 10_000;

/**
 * A multi-model container over HTTP, beside the gateway (`sagemaker-byoc gateway`, docker-compose):
 * its `/models` API at `baseUrl`.
 *
 * @example
 * ```ts
 * const host = new HttpModelHost("http://model:8080");
 * ```
 */
export class HttpModelHost implements ModelHost {
  readonly target: string;
  readonly #base: URL;
  /** Each model's `/models/{name}/invoke` URL, parsed once: a URL parsed per request was the largest cost of the multi-model route in the gateway. */
  readonly #invokeUrls = new Map<string, URL>();

  constructor(baseUrl: string) {
    this.#base = new URL("/", baseUrl);
    this.target = this.#base.href;
  }

  async load(modelName: string, url: string, targetModel: string, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ model_name: modelName, url });
    await this.#call("POST", "models", signal, body, { "content-type": "application/json", accept: "application/json", "x-amzn-sagemaker-target-model": targetModel });
  }

  async unload(modelName: string, signal: AbortSignal): Promise<void> {
    this.#invokeUrls.delete(modelName);
    await this.#call("DELETE", `models/${encodeURIComponent(modelName)}`, signal);
  }

  invoke(modelName: string, request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    let url = this.#invokeUrls.get(modelName);
    if (url === undefined) {
      url = new URL(`models/${encodeURIComponent(modelName)}/invoke`, this.#base);
      // Names the gateway no longer uses (a container that unloaded models by itself) must not pile up.
      if (this.#invokeUrls.size >= maxCachedUrls) this.#invokeUrls.clear();
      this.#invokeUrls.set(modelName, url);
    }
    return postInvocation(url, request, signal);
  }

  async #call(method: string, path: string, signal: AbortSignal, body?: string, headers: Record<string, string> = {}): Promise<void> {
    const url = new URL(path, this.#base);
    let response: Response;
    try {
      response = await fetch(url, { method, body: body ?? null, headers, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new InvokerUnavailableError(`Could not reach the model container at ${url.href}: ${(error as Error).message}`, { cause: error });
    }
    const answer = Buffer.from(await response.arrayBuffer());
    if (!response.ok) throw new ModelInvocationError(response.status, answer, response.headers.get("content-type") ?? "application/octet-stream");
  }
}

/**
 * The multi-model server of this process (`serve --multi-model --async`): the same calls, made
 * on its model registry without HTTP, with the errors the HTTP API would answer.
 *
 * @example
 * ```ts
 * const host = new InProcessModelHost(await startServer({ multiModel: true }));
 * ```
 */
export class InProcessModelHost implements ModelHost {
  readonly target = "in-process";
  readonly #server: RunningServer;
  readonly #log: Logger;

  constructor(server: RunningServer, log: Logger = server.log) {
    this.#server = server;
    this.#log = log;
  }

  async load(modelName: string, url: string): Promise<void> {
    await this.#answer("-", () => this.#registry().load(modelName, url));
  }

  async unload(modelName: string): Promise<void> {
    await this.#answer("-", () => this.#registry().unload(modelName));
  }

  invoke(modelName: string, request: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
    return this.#answer(request.inferenceId, () => this.#registry().invoke(modelName, request, signal, { transferBody: true }), signal);
  }

  #registry(): NonNullable<RunningServer["registry"]> {
    const registry = this.#server.registry;
    if (registry === undefined) throw new InvokerUnavailableError("The model server of this process is not a multi-model endpoint: start it with --multi-model");
    return registry;
  }

  /** Runs `call`, turning its error into the answer `/models` would give over HTTP. */
  async #answer<T>(inferenceId: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (signal?.aborted === true && error === signal.reason) throw error;
      if (error instanceof InvokerUnavailableError) throw error;
      throw answeredAsOverHttp(error, inferenceId, this.#log, "the multi-model server failed");
    }
  }
}
