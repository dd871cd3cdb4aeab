import type { ServerResponse } from "node:http";
import { Router, type Request, type Response } from "express";
import type { Logger } from "pino";
import { catalogued } from "../../error-codes.js";
import { InferenceError } from "../../errors.js";
import type { Admission } from "../../http/admission.js";
import { clientClosedStatus, serveInvocation, type InvocationRoute } from "../../http/invocation.js";
import { sendError } from "../../http/send-error.js";
import { wholeBody, type InvocationRequest, type InvocationResult } from "../../pipeline/inference-pipeline.js";
import type { InvocationObserver } from "../sagemaker/invocations.js";
import { requestInferenceId } from "../sagemaker/invocations.js";
import type { DataPlane } from "../../dispatch/data-plane.js";
import { inferenceHeaderLength } from "./inference-request.js";

/**
 * What the KServe V2 routes need: the server's models and the limits every inference route shares.
 *
 * @example
 * ```ts
 * const options: KserveV2RouteOptions = { models, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, admission, serverVersion: "0.1.0", observe: undefined };
 * ```
 */
export interface KserveV2RouteOptions {
  readonly models: DataPlane;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly admission: Admission;
  /** This package's version, which server metadata reports. */
  readonly serverVersion: string;
  /** Told of every answered inference request and the model it ran on (the metrics' hook). */
  readonly observe: ((model: string) => InvocationObserver) | undefined;
}

/** The extensions server metadata lists: this server reads and writes binary tensor data. */
const extensions = ["binary_tensor_data"];

/** `/v2/models/{name}`, with the optional `/versions/{version}`. */
const modelPath = "/v2/models/:model{/versions/:version}";

/**
 * The KServe V2 / Open Inference Protocol REST routes (docs/kserve-v2.md), for every model of the
 * server: server liveness, readiness and metadata; model readiness and metadata; inference with
 * JSON and binary tensor data. Errors answer `{"error": "<message>"}` with the toolkit's status
 * for them (400 for a malformed request, naming the input at fault; 404 for an unknown model or
 * version; 503 while the model loads). Models are not versioned: a path naming a version is a 404.
 *
 * Inference goes through the same admission, body limit, Content-Encoding and time limit as
 * `/invocations`; its decoding and encoding run in the worker, by the protocol's adapter.
 *
 * @example
 * ```ts
 * app.use(createKserveV2Router({ models, log, timeoutMs: 60_000, maxPayloadBytes: 6 << 20, admission, serverVersion, observe: undefined }));
 * ```
 */
export function createKserveV2Router(options: KserveV2RouteOptions): Router {
  const { models, log } = options;
  const router = Router({ caseSensitive: true, strict: true });
  const fail = (response: ServerResponse, error: unknown, inferenceId: string): void => sendKserveV2Error(response, error, inferenceId, log);
  const baseRoute: Omit<InvocationRoute, "invoke"> = {
    timeoutMs: options.timeoutMs,
    streamIdleMs: options.timeoutMs,
    maxPayloadBytes: options.maxPayloadBytes,
    admission: options.admission,
    sendError: fail,
  };

  const serverMetadata = JSON.stringify({ name: "sagemaker-byoc-node", version: options.serverVersion, extensions });
  // The protocol's text writes `v2`, its OpenAPI document `/v2/`: both answer.
  router.get("/v2", (_request, response) => sendJson(response, 200, serverMetadata));
  router.get("/v2/", (_request, response) => sendJson(response, 200, serverMetadata));
  router.get("/v2/health/live", (_request, response) => sendJson(response, 200, JSON.stringify({ live: true })));
  router.get("/v2/health/ready", (_request, response) => {
    const ready = models.models().every((model) => model.ready);
    sendJson(response, ready ? 200 : 503, JSON.stringify({ ready }));
  });

  router.get(`${modelPath}/ready`, (request, response) => {
    const name = modelOf(request, models);
    if (name instanceof InferenceError) return fail(response, name, "-");
    const ready = models.model(name)?.ready === true;
    sendJson(response, ready ? 200 : 503, JSON.stringify({ name, ready }));
  });

  router.get(modelPath, (request, response) => {
    const name = modelOf(request, models);
    if (name instanceof InferenceError) return fail(response, name, "-");
    const inferenceId = requestInferenceId(request.headers);
    const metadataRequest: InvocationRequest = {
      body: Buffer.alloc(0),
      contentType: undefined,
      accept: undefined,
      customAttributes: undefined,
      inferenceId,
      targetModel: undefined,
      targetVariant: undefined,
      sessionId: undefined,
      protocol: "kserve-v2-metadata",
    };
    models.invoke(name, metadataRequest, AbortSignal.timeout(options.timeoutMs)).then(
      async (result) => sendJson(response, 200, await wholeBody(result.body)),
      (error: unknown) => fail(response, error, inferenceId),
    );
  });

  router.post(`${modelPath}/infer`, async (request, response) => {
    const started = performance.now();
    const inferenceId = requestInferenceId(request.headers);
    const name = modelOf(request, models);
    const route: InvocationRoute = {
      ...baseRoute,
      // An unknown model is refused once the body is read, so the connection stays usable.
      invoke: (invocation, signal) => (name instanceof InferenceError ? Promise.reject(name) : runInference(models, name, request, invocation, signal)),
    };
    const outcome = await serveInvocation(route, request, response, inferenceId);
    const status = outcome.clientGone ? clientClosedStatus : response.statusCode;
    if (typeof name === "string") options.observe?.(name)(outcome, status, (performance.now() - started) / 1000);
    log.info(
      { inferenceId, model: typeof name === "string" ? name : undefined, status, ms: round(performance.now() - started), requestBytes: outcome.requestBytes, responseBytes: outcome.responseBytes },
      "kserve-v2 inference",
    );
  });

  router.use("/v2", (request, response) => {
    fail(response, new InferenceError(`No KServe V2 route for ${request.method} ${request.originalUrl}`, catalogued("NOT_FOUND")), "-");
  });
  return router;
}

/**
 * Answers an error the KServe V2 way, `{"error": "<message>"}`, with the status and logging every
 * route of the toolkit gives it (`sendError`).
 *
 * @example
 * ```ts
 * sendKserveV2Error(res, new BadRequestError('Missing input "x"'), inferenceId, log); // 400 {"error":"Missing input \"x\"..."}
 * ```
 */
export function sendKserveV2Error(response: ServerResponse, error: unknown, inferenceId: string, log: Logger): void {
  sendError(response, error, inferenceId, log, (body) => ({ error: body.error.message }));
}

function runInference(models: DataPlane, name: string, http: Request, invocation: InvocationRequest, signal: AbortSignal): Promise<InvocationResult> {
  const headerLength = http.headers[inferenceHeaderLength];
  return models.invoke(
    name,
    { ...invocation, protocol: "kserve-v2", ...(typeof headerLength === "string" ? { protocolHeaders: { [inferenceHeaderLength]: headerLength } } : {}) },
    signal,
  );
}

/** The model the path names, or the 404 to answer: an unknown name, or any version (models are not versioned). */
function modelOf(request: Request, models: DataPlane): string | InferenceError {
  const { model, version } = request.params as { model: string; version?: string };
  if (models.model(model) === undefined) {
    return new InferenceError(`Unknown model "${model}": this server serves ${models.models().map((served) => served.name).join(", ") || "no model"}`, catalogued("MODEL_NOT_FOUND"));
  }
  if (version !== undefined) {
    return new InferenceError(`Model "${model}" has no version "${version}": this server does not version models; leave /versions/${version} out of the path`, catalogued("MODEL_NOT_FOUND"));
  }
  return model;
}

function sendJson(response: Response | ServerResponse, status: number, body: string | Uint8Array): void {
  response.statusCode = status;
  response.setHeader("content-type", "application/json");
  response.setHeader("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
  response.end(body);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
