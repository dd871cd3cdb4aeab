import type { Logger } from "pino";
import { builtinCodecs } from "../codecs/index.js";
import { CodecRegistry } from "../codecs/registry.js";
import { ConfigurationError, ModelNotReadyError } from "../errors.js";
import { importHandlers } from "../handlers/handlers-file.js";
import type { Handlers } from "../handlers/types.js";
import { loadModel, type LoadedModel } from "../models/load-model.js";
import type { ModelSource } from "../models/model-source.js";
import { InferencePipeline, type InvocationRequest, type InvocationResult } from "../pipeline/inference-pipeline.js";
import { protocolFronts, type HostedModel } from "./protocol-fronts.js";
import type { LoadReport, RuntimeConfig } from "./worker-protocol.js";

interface Hosted extends HostedModel {
  readonly loaded: LoadedModel;
}

/**
 * The models one thread hosts, by name, each with its handlers and pipeline: loads and unloads
 * them and runs requests through them. An inference worker is a message adapter around one.
 *
 * @example
 * ```ts
 * const runtime = new ModelRuntime({ workerId: 0, config, log });
 * await runtime.load({ name: "model", modelDir: "/opt/ml/model", handlersFile: undefined });
 * const result = await runtime.invoke("model", request, { log, signal });
 * ```
 */
export class ModelRuntime {
  readonly #workerId: number;
  readonly #config: RuntimeConfig;
  readonly #log: Logger;
  readonly #models = new Map<string, Hosted>();

  constructor(options: { readonly workerId: number; readonly config: RuntimeConfig; readonly log: Logger }) {
    this.#workerId = options.workerId;
    this.#config = options.config;
    this.#log = options.log;
  }

  /** Imports the handlers, loads and warms up the model; a model of the same name is replaced only after the new one loaded. */
  async load(source: ModelSource): Promise<LoadReport> {
    const handlers = source.handlersFile === undefined ? {} : await importHandlers(source.handlersFile);
    return this.loadWith(source.name, handlers, source.modelDir);
  }

  /** {@link ModelRuntime.load} with the handlers given as a module (checked already), as the test helper has them. */
  async loadWith(name: string, handlers: Handlers, modelDir: string): Promise<LoadReport> {
    const codecs = this.#codecsFor(handlers);
    const log = this.#log.child({ model: name });
    const loaded = await loadModel(handlers, {
      name,
      modelDir,
      workerId: this.#workerId,
      onnx: this.#config.onnx,
      batching: this.#config.batching,
      log,
    });
    const previous = this.#models.get(name);
    this.#models.set(name, {
      name,
      loaded,
      model: loaded.model,
      handlers,
      codecs,
      pipeline: new InferencePipeline(handlers, loaded.model, codecs, this.#config),
    });
    if (previous !== undefined) await previous.loaded.model.release();
    return { loadMs: loaded.loadMs, memoryBytes: loaded.memoryBytes, signature: loaded.model.signature, batchSize: loaded.model.batchSize };
  }

  /** What the model's `modelFn` returned (the ONNX session or sessions by default); `undefined` when it is not loaded. */
  valueOf(name: string): unknown {
    return this.#models.get(name)?.model.value;
  }

  /** Releases the model; requests already running on it finish with what they hold. */
  async unload(name: string): Promise<void> {
    const hosted = this.#models.get(name);
    if (hosted === undefined) return;
    this.#models.delete(name);
    await hosted.loaded.model.release();
  }

  invoke(name: string, request: InvocationRequest, scope: { log: Logger; signal: AbortSignal }): Promise<InvocationResult> {
    const hosted = this.#models.get(name);
    if (hosted === undefined) return Promise.reject(new ModelNotReadyError(`Model ${name} is not loaded in this worker`));
    if (request.protocol === undefined) return hosted.pipeline.invoke(request, scope);
    const front = protocolFronts.get(request.protocol);
    if (front === undefined) return Promise.reject(new Error(`No adapter for protocol ${request.protocol}`));
    return front(hosted, request, scope);
  }

  /** Releases every model, even when one release fails; failures are logged. */
  async releaseAll(): Promise<void> {
    const names = [...this.#models.keys()];
    const results = await Promise.allSettled(names.map((name) => this.unload(name)));
    results.forEach((result, index) => {
      if (result.status === "rejected") this.#log.error({ err: result.reason as unknown, model: names[index] }, "releasing the model failed");
    });
  }

  #codecsFor(handlers: Handlers): CodecRegistry {
    const codecs = new CodecRegistry([...builtinCodecs({ multipart: this.#config.multipart }), ...(handlers.codecs ?? [])]);
    const encodesByDefault = handlers.outputFn === undefined && handlers.transformFn === undefined;
    if (encodesByDefault && !codecs.encodableTypes.includes(this.#config.defaultAccept)) {
      throw new ConfigurationError(
        `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=${this.#config.defaultAccept} has no codec; use one of ${codecs.encodableTypes.join(", ")} or register a codec for it`,
      );
    }
    return codecs;
  }
}
