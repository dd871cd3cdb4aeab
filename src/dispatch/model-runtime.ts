import type { Logger } from "pino";
import { builtinCodecs } from "../codecs/index.js";
import { CodecRegistry } from "../codecs/registry.js";
import { ConfigurationError, ModelNotReadyError } from "../errors.js";
import { importHandlers } from "../handlers/handlers-file.js";
import type { Handlers } from "../handlers/types.js";
import { collectGarbage } from "../models/collect-garbage.js";
import { loadModel, type LoadedModel, type LoadModelOptions } from "../models/load-model.js";
import type { ModelSource } from "../models/model-source.js";
import { InferencePipeline, type InvocationRequest, type InvocationResult } from "../pipeline/inference-pipeline.js";
import { ComposedModel } from "../pipeline/stages/composed-model.js";
import type { StageCall, StageReturn } from "../pipeline/stages/hand-over.js";
import { namingStage } from "../pipeline/stages/stage-errors.js";
import { StageHost, stageHostName } from "../pipeline/stages/stage-host.js";
import type { ComposedStages } from "../pipeline/stages/stage-pipeline.js";
import { protocolFronts, type HostedModel } from "./protocol-fronts.js";
import type { LoadReport, RuntimeConfig } from "./worker-protocol.js";

interface Hosted extends HostedModel {
  readonly loaded: LoadedModel;
}

/** How many unloads go between two full garbage collections (see `#collectAfterUnloads`). */
const unloadsPerCollection = 16;

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
  #unloadsSinceCollection = 0;
  readonly #stageHosts = new Map<string, StageHost>();
  readonly #callStage: StageCalls | undefined;

  /**
   * `callStage` runs a pipeline's stage on the workers hosting it (the worker pool, through the
   * main thread); without it, as in a single thread, every stage of a pipeline runs here.
   */
  constructor(options: { readonly workerId: number; readonly config: RuntimeConfig; readonly log: Logger; readonly callStage?: StageCalls }) {
    this.#workerId = options.workerId;
    this.#config = options.config;
    this.#log = options.log;
    this.#callStage = options.callStage;
  }

  /** Imports the handlers, loads and warms up the model; a model of the same name is replaced only after the new one loaded. */
  async load(source: ModelSource): Promise<LoadReport> {
    const handlers = source.handlersFile === undefined ? {} : await importHandlers(source.handlersFile);
    if (source.stage !== undefined) return this.#loadStageHost(source.name, handlers, source.modelDir, source.stage);
    return this.loadWith(source.name, handlers, source.modelDir);
  }

  /**
   * {@link ModelRuntime.load} with the handlers given as a module (checked already), as the test
   * helper has them. A module exporting a `pipeline` of stages loads as one model whose stages
   * run in order (docs/pipelines.md).
   */
  async loadWith(name: string, handlers: Handlers, modelDir: string): Promise<LoadReport> {
    const composition = handlers.pipeline;
    const served: Handlers = composition === undefined ? handlers : compositionHandlers(composition, handlers);
    const codecs = this.#codecsFor(served);
    const options = this.#loadOptions(name, modelDir);
    const callStage = this.#callStage;
    const loaded =
      composition === undefined
        ? await loadModel(handlers, options)
        : await ComposedModel.load(composition, options, callStage && ((stage, call, signal) => callStage(stageHostName(name, stage), call, signal)));
    const previous = this.#models.get(name);
    this.#models.set(name, {
      name,
      loaded,
      model: loaded.model,
      handlers: served,
      codecs,
      pipeline: new InferencePipeline(served, loaded.model, codecs, this.#config),
    });
    if (previous !== undefined) await previous.loaded.model.release();
    const remoteStages = loaded.model instanceof ComposedModel && loaded.model.remoteStages.length > 0 ? { remoteStages: loaded.model.remoteStages } : {};
    return { loadMs: loaded.loadMs, memoryBytes: loaded.memoryBytes, signature: loaded.model.signature, batchSize: loaded.model.batchSize, ...remoteStages };
  }

  /** Runs one stage this worker hosts for the workers serving its pipeline (see {@link ModelSource.stage}). */
  runStage(name: string, call: StageCall, scope: { log: Logger; signal: AbortSignal }): Promise<StageReturn> {
    const host = this.#stageHosts.get(name);
    if (host === undefined) return Promise.reject(new ModelNotReadyError(`Stage ${name} is not loaded in this worker`));
    return host.run(call, scope);
  }

  async #loadStageHost(name: string, handlers: Handlers, modelDir: string, stage: string): Promise<LoadReport> {
    if (handlers.pipeline === undefined) throw new ConfigurationError(`Stage "${stage}" of ${name} was asked for, but its handlers file exports no pipeline`);
    const host = await StageHost.load(handlers.pipeline, stage, this.#loadOptions(name, modelDir));
    const previous = this.#stageHosts.get(name);
    this.#stageHosts.set(name, host);
    if (previous !== undefined) await previous.release();
    const { loadMs, memoryBytes, model } = host.loaded;
    return { loadMs, memoryBytes, signature: model.signature, batchSize: model.batchSize };
  }

  #loadOptions(name: string, modelDir: string): LoadModelOptions {
    return { name, modelDir, workerId: this.#workerId, onnx: this.#config.onnx, batching: this.#config.batching, log: this.#log.child({ model: name }) };
  }

  /** What the model's `modelFn` returned (the ONNX session or sessions by default); `undefined` when it is not loaded. */
  valueOf(name: string): unknown {
    return this.#models.get(name)?.model.value;
  }

  /** Releases the model (or the hosted stage); requests already running on it finish with what they hold. */
  async unload(name: string): Promise<void> {
    const host = this.#stageHosts.get(name);
    if (host !== undefined) {
      this.#stageHosts.delete(name);
      await host.release();
    }
    const hosted = this.#models.get(name);
    if (hosted === undefined) return;
    this.#models.delete(name);
    await hosted.loaded.model.release();
    this.#collectAfterUnloads();
  }

  /**
   * Every {@link unloadsPerCollection}th unload ends with a full garbage collection. A released
   * model's JavaScript objects (and the native memory some of them hold) otherwise wait for V8's
   * own collections, which on a multi-model endpoint that loads and unloads all day let resident
   * memory climb about three times as fast as the sessions' own leak
   * (test/protocols/sagemaker/multi-model-memory.test.ts). Loads no longer collect first (their
   * memory figure is measured without it, docs/multi-model.md), so the cost stays off the cold
   * path but for one collection in so many unloads.
   */
  #collectAfterUnloads(): void {
    if (++this.#unloadsSinceCollection < unloadsPerCollection) return;
    this.#unloadsSinceCollection = 0;
    collectGarbage();
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
    const names = [...this.#models.keys(), ...this.#stageHosts.keys()];
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

/**
 * Runs a stage of a pipeline on the workers that host it, by its host name (`stageHostName`).
 *
 * @example
 * ```ts
 * const callStage: StageCalls = (host, call, signal) => pool.runStage(host, call, signal);
 * ```
 */
export type StageCalls = (host: string, call: StageCall, signal: AbortSignal) => Promise<StageReturn>;

/**
 * A pipeline's request handlers: its first stage decodes (a failure names that stage), its
 * `encodeWith` encodes; the module's codecs serve both defaults.
 */
function compositionHandlers(composition: ComposedStages<never, unknown, unknown>, handlers: Handlers): Handlers {
  const first = composition.definitions[0];
  const decode = first?.inputFn;
  const inputFn: Handlers["inputFn"] =
    first === undefined || decode === undefined
      ? undefined
      : async (body, contentType, ctx) => {
          try {
            return await decode(body, contentType, ctx);
          } catch (error) {
            throw namingStage(error, first.name);
          }
        };
  return {
    ...(inputFn === undefined ? {} : { inputFn }),
    ...(composition.outputFn === undefined ? {} : { outputFn: composition.outputFn }),
    ...(handlers.codecs === undefined ? {} : { codecs: handlers.codecs }),
  };
}
