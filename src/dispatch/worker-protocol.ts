import type { EncodedBody } from "../codecs/codec.js";
import type { ServerConfig } from "../config/server-config.js";
import type { InvocationRequest } from "../pipeline/inference-pipeline.js";

/** What a worker is started with. */
export interface WorkerSetup {
  readonly workerId: number;
  readonly handlersFile: string | undefined;
  readonly modelDir: string;
  readonly config: Pick<ServerConfig, "logLevel" | "defaultAccept" | "defaultContentType" | "onnx" | "multipart">;
}

/** An error as it crosses the thread boundary (structured clone drops custom fields). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  readonly stack: string | undefined;
}

/** Main thread → worker. */
export type ToWorker =
  | {
      readonly type: "invoke";
      readonly id: number;
      readonly request: Omit<InvocationRequest, "body">;
      /** Small bodies travel as latin1 strings (one char per byte), large ones as a transferred buffer. */
      readonly body: Uint8Array | string;
    }
  | { readonly type: "abort"; readonly id: number; readonly reason: "timeout" | "client-closed" }
  | { readonly type: "shutdown" };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: "ready"; readonly loadMs: number }
  | { readonly type: "load-failed"; readonly error: SerializedError }
  | {
      readonly type: "result";
      readonly id: number;
      readonly body: EncodedBody;
      readonly contentType: string;
      readonly customAttributes: string | undefined;
    }
  | { readonly type: "error"; readonly id: number; readonly error: SerializedError };
