import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { loadConfig, type LogLevel } from "../config/server-config.js";
import { ModelRuntime } from "../dispatch/model-runtime.js";
import { findHandlersFile, importHandlers, validateHandlers } from "../handlers/handlers-file.js";
import type { Handlers } from "../handlers/types.js";
import { createLogger } from "../logger.js";
import { resolveModelDir } from "../models/artifacts/model-dir.js";
import { wholeBody } from "../pipeline/inference-pipeline.js";

/** The name the model goes by in the test endpoint, as in a single-model server. */
const modelName = "model";

/**
 * What {@link createTestEndpoint} loads.
 *
 * @example
 * ```ts
 * const options: TestEndpointOptions = {
 *   handlers: new URL("../code/inference.ts", import.meta.url),
 *   modelDir: new URL("../model", import.meta.url),
 * };
 * ```
 */
export interface TestEndpointOptions {
  /**
   * The model directory `modelFn` gets (a `model.tar.gz` in it is unpacked, as `serve` does).
   * A path relative to the working directory, or a `file:` URL.
   */
  readonly modelDir: string | URL;
  /**
   * The handlers: a file (`.ts` files are compiled on import, as `serve` does), or the
   * module itself (`import * as handlers from "../code/inference.ts"`), checked as `serve` checks
   * it. By default the file is found
   * as `serve` finds it: `code/inference.*` in the working directory, then in the model
   * directory; none means the defaults serve the ONNX model.
   */
  readonly handlers?: string | URL | object;
  /**
   * Settings as the server reads them from its environment (`SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`,
   * `BYOC_ONNX_*`...). Empty by default, so a test does not depend on the shell it runs in.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Level of the logger handlers get as `ctx.log` (default `silent`). */
  readonly logLevel?: LogLevel;
}

/**
 * One request, as SageMaker would send it to `/invocations`. Give `body`, or `json` for a JSON
 * body (Content-Type `application/json` unless given).
 *
 * @example
 * ```ts
 * const request: TestRequest = { body: "5.1,3.5,1.4,0.2", contentType: "text/csv", accept: "application/json" };
 * ```
 */
export interface TestRequest {
  readonly body?: string | Uint8Array;
  readonly json?: unknown;
  /** Content-Type; the server's default (`application/json`) when absent. */
  readonly contentType?: string;
  /** Accept; the server's default (`application/json`) when absent. */
  readonly accept?: string;
  /** `X-Amzn-SageMaker-Custom-Attributes`. */
  readonly customAttributes?: string;
  /** `X-Amzn-SageMaker-Inference-Id`; a new UUID when absent, as the server does. */
  readonly inferenceId?: string;
  /** `X-Amzn-SageMaker-Target-Model`. */
  readonly targetModel?: string;
  /** `X-Amzn-SageMaker-Target-Variant`. */
  readonly targetVariant?: string;
  /** `X-Amzn-SageMaker-Session-Id`. */
  readonly sessionId?: string;
  /** What the handlers get as `ctx.signal`; abort it to act out a time limit or a client that left. */
  readonly signal?: AbortSignal;
}

/**
 * The answer the server would send with status 200.
 *
 * @example
 * ```ts
 * const { predictions } = response.json<{ predictions: number[][] }>();
 * ```
 */
export interface TestResponse {
  readonly body: Buffer;
  readonly contentType: string;
  /** `X-Amzn-SageMaker-Custom-Attributes` sent back, when the handlers set `ctx.responseCustomAttributes`. */
  readonly customAttributes: string | undefined;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

/**
 * Handlers and model loaded in this process, run without HTTP.
 *
 * @example
 * ```ts
 * const endpoint = await createTestEndpoint({ modelDir: "model" });
 * const response = await endpoint.invoke({ json: { instances: [[5.1, 3.5, 1.4, 0.2]] } });
 * await endpoint.close();
 * ```
 */
export interface TestEndpoint {
  /** What `modelFn` returned (the ONNX session(s) by default). */
  readonly model: unknown;
  /**
   * Runs one request through `inputFn` → `predictFn` → `outputFn` (or `transformFn`), with a
   * request context, through the same pipeline the server's workers run. Rejects with what the
   * handlers threw: an `InferenceError` carries the `statusCode` the server would answer with;
   * anything else would be a 500.
   */
  invoke(request: TestRequest): Promise<TestResponse>;
  /** Releases the model: the user's `unloadFn`, then every ONNX session loaded through the context. */
  close(): Promise<void>;
}

/**
 * Loads handlers and model in-process for unit tests: the handlers file imported as `serve`
 * imports it, `modelFn` (or the default ONNX loading) run once, the built-in codecs and the
 * handlers' own registered, then each {@link TestEndpoint.invoke} goes through the server's own
 * inference pipeline. No HTTP server, no worker threads: stack traces and breakpoints lead
 * straight into the handlers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { test } from "node:test";
 * import { createTestEndpoint } from "sagemaker-byoc-node/testing";
 *
 * test("a setosa row is classified as setosa", async () => {
 *   const endpoint = await createTestEndpoint({ handlers: "code/inference.ts", modelDir: "model" });
 *   try {
 *     const response = await endpoint.invoke({ json: { instances: [[5.1, 3.5, 1.4, 0.2]] } });
 *     const { predictions } = response.json<{ predictions: number[][] }>();
 *     assert.equal(predictions[0]?.indexOf(Math.max(...predictions[0])), 0);
 *   } finally {
 *     await endpoint.close();
 *   }
 * });
 * ```
 */
export async function createTestEndpoint(options: TestEndpointOptions): Promise<TestEndpoint> {
  const requestedModelDir = toPath(options.modelDir);
  const config = loadConfig(options.env ?? {}, { modelDir: requestedModelDir, logLevel: options.logLevel ?? "silent" });
  const log = createLogger(config.logLevel);
  const modelDir = await resolveModelDir({ modelDir: config.modelDir, extractDir: config.extractDir, limits: config.archive, log });
  const handlers = await loadHandlers(options.handlers, [...new Set([modelDir, config.modelDir])]);
  // The worker's own runtime, in this thread: the same load, warm-up, pipeline and release.
  const runtime = new ModelRuntime({ workerId: 0, config, log });
  await runtime.loadWith(modelName, handlers, modelDir);
  let closed = false;
  return {
    model: runtime.valueOf(modelName),
    async invoke(request) {
      if (closed) throw new Error("This test endpoint is closed");
      const inferenceId = request.inferenceId ?? randomUUID();
      const result = await runtime.invoke(
        modelName,
        {
          body: requestBody(request),
          contentType: request.contentType ?? (request.json === undefined ? undefined : "application/json"),
          accept: request.accept,
          customAttributes: request.customAttributes,
          inferenceId,
          targetModel: request.targetModel,
          targetVariant: request.targetVariant,
          sessionId: request.sessionId,
        },
        { log: log.child({ inferenceId }), signal: request.signal ?? new AbortController().signal },
      );
      return toResponse(await wholeBody(result.body), result.contentType, result.customAttributes);
    },
    async close() {
      if (closed) return;
      closed = true;
      await runtime.releaseAll();
    },
  };
}

async function loadHandlers(handlers: TestEndpointOptions["handlers"], modelDirs: readonly string[]): Promise<Handlers> {
  if (typeof handlers === "object" && !(handlers instanceof URL)) return validateHandlers("handlers module", { ...handlers });
  const file = await findHandlersFile({ handlersPath: handlers === undefined ? undefined : toPath(handlers), sagemakerProgram: undefined, modelDirs });
  return file === undefined ? {} : importHandlers(file);
}

function requestBody(request: TestRequest): Buffer {
  if (request.body !== undefined && request.json !== undefined) throw new TypeError("Give a request body or json, not both");
  if (request.json !== undefined) return Buffer.from(JSON.stringify(request.json));
  if (request.body === undefined) return Buffer.alloc(0);
  return typeof request.body === "string" ? Buffer.from(request.body) : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
}

function toResponse(body: string | Uint8Array, contentType: string, customAttributes: string | undefined): TestResponse {
  const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return {
    body: bytes,
    contentType,
    customAttributes,
    text: () => bytes.toString("utf8"),
    json: <T>() => JSON.parse(bytes.toString("utf8")) as T,
  };
}

function toPath(location: string | URL): string {
  return location instanceof URL ? fileURLToPath(location) : location;
}
