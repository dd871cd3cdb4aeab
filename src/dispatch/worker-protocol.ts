import type { EncodedBody } from "../codecs/codec.js";
import type { ServerConfig } from "../config/server-config.js";
import type { ModelSignature } from "../models/model.js";
import type { ModelSource } from "../models/model-source.js";
import type { InvocationRequest, StageTimings } from "../pipeline/inference-pipeline.js";
import type { RemoteStage } from "../pipeline/stages/composed-model.js";
import type { StageCall, StageReturn } from "../pipeline/stages/hand-over.js";

/** The settings a thread that runs models needs. */
export type RuntimeConfig = Pick<ServerConfig, "logLevel" | "defaultAccept" | "defaultContentType" | "onnx" | "multipart" | "batching">;

/** What a worker is started with; models arrive later, by message. */
export interface WorkerSetup {
  readonly workerId: number;
  readonly config: RuntimeConfig;
  /** Pay ONNX Runtime's one-time set-up before any model loads, so each load measures only its model (multi-model endpoints). */
  readonly primeOnnxRuntime: boolean;
}

/** An error as it crosses the thread boundary (structured clone drops custom fields). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  readonly stack: string | undefined;
  /** The stage of a pipeline of stages it happened in (docs/pipelines.md, "When a stage fails"). */
  readonly stage: string | undefined;
}

/** What a load cost, as the worker measured it. */
export interface LoadReport {
  readonly loadMs: number;
  readonly memoryBytes: number;
  readonly signature: ModelSignature | undefined;
  /** Most rows a merged run takes (1: the model is not batched); the pool sends that many requests to a worker at once. */
  readonly batchSize: number;
  /** A pipeline's stages that run on workers of their own: the pool loads each where it says. */
  readonly remoteStages?: readonly RemoteStage[];
}

/** Main thread → worker. `id`s pair each command with its answer. */
export type ToWorker =
  | { readonly type: "load"; readonly id: number; readonly source: ModelSource }
  | { readonly type: "unload"; readonly id: number; readonly model: string }
  | {
      readonly type: "invoke";
      readonly id: number;
      readonly model: string;
      readonly request: Omit<InvocationRequest, "body">;
      /** Small bodies travel as latin1 strings (one char per byte), large ones as a transferred buffer. */
      readonly body: Uint8Array | string;
    }
  | { readonly type: "abort"; readonly id: number; readonly reason: "timeout" | "client-closed" }
  /** The main thread wrote a chunk of this response stream out: the worker may send one more. */
  | { readonly type: "stream-ack"; readonly id: number }
  /** Asks whether the worker's event loop is free: it answers `alive` unless a run blocks it. */
  | { readonly type: "probe"; readonly id: number }
  /** Runs one stage (the worker hosts `model`, a stage of a pipeline) on a value another worker handed over; answered by `stage-output` or `error`. */
  | { readonly type: "run-stage"; readonly id: number; readonly model: string; readonly call: StageCall }
  /** The answer to this worker's `call-stage` `id`: the stage's output, or its error. */
  | { readonly type: "stage-settled"; readonly id: number; readonly output: StageReturn | undefined; readonly error: SerializedError | undefined }
  | { readonly type: "shutdown" };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: "started" }
  | { readonly type: "loaded"; readonly id: number; readonly report: LoadReport }
  | { readonly type: "unloaded"; readonly id: number }
  | { readonly type: "alive"; readonly id: number }
  | {
      readonly type: "result";
      readonly id: number;
      readonly body: EncodedBody;
      readonly contentType: string;
      readonly customAttributes: string | undefined;
      readonly timings: StageTimings | undefined;
      readonly protocolHeaders: Readonly<Record<string, string>> | undefined;
    }
  /** The answer is a stream: headers now, then chunks (at most a window of them unacknowledged), then `stream-end` or `error`. */
  | {
      readonly type: "stream-start";
      readonly id: number;
      readonly contentType: string;
      readonly customAttributes: string | undefined;
      readonly timings: StageTimings | undefined;
    }
  | { readonly type: "stream-chunk"; readonly id: number; readonly chunk: Uint8Array | string }
  | { readonly type: "stream-end"; readonly id: number }
  | { readonly type: "error"; readonly id: number; readonly error: SerializedError }
  /** What a stage hosted here gave for `run-stage` `id`. */
  | { readonly type: "stage-output"; readonly id: number; readonly output: StageReturn }
  /** A pipeline running here asks for one of its stages on the workers hosting it (`model`); `id` is this worker's own. */
  | { readonly type: "call-stage"; readonly id: number; readonly model: string; readonly call: StageCall }
  /** The request behind `call-stage` `id` ended (time limit, client gone): abandon the call. */
  | { readonly type: "cancel-stage"; readonly id: number };
