/**
 * Type tests for the public API: `npm test` type-checks this file (tsc), so a change to the
 * handler contract that would break users' handlers files fails the build. The runtime
 * assertions check the package entry exports what the types promise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectTypeOf } from "expect-type";
import type { Logger } from "pino";
import type { InferenceSession } from "onnxruntime-node";
import * as api from "../../src/index.js";
import * as codecs from "../../src/public/codecs.js";
import * as gateway from "../../src/public/gateway.js";
import * as server from "../../src/public/server.js";
import type { Codec, HandlerOutput, Handlers, ModelContext, NDArray, RequestContext } from "../../src/index.js";

test("the handler signatures are the documented ones", () => {
  type H = Required<Handlers<"model", "input", "prediction">>;
  expectTypeOf<Parameters<H["modelFn"]>>().toEqualTypeOf<[modelDir: string, ctx: ModelContext]>();
  expectTypeOf<Parameters<H["inputFn"]>>().toEqualTypeOf<[body: Buffer, contentType: string, ctx: RequestContext]>();
  expectTypeOf<Parameters<H["predictFn"]>>().toEqualTypeOf<[input: "input", model: "model", ctx: RequestContext]>();
  expectTypeOf<Parameters<H["outputFn"]>>().toEqualTypeOf<[prediction: "prediction", accept: string, ctx: RequestContext]>();
  expectTypeOf<ReturnType<H["outputFn"]>>().toEqualTypeOf<HandlerOutput | Promise<HandlerOutput>>();
  expectTypeOf<H["codecs"]>().toEqualTypeOf<readonly Codec[]>();
});

test("the request context is typed: readable facts, one settable field", () => {
  expectTypeOf<RequestContext["signal"]>().toEqualTypeOf<AbortSignal>();
  expectTypeOf<RequestContext["log"]>().toEqualTypeOf<Logger>();
  expectTypeOf<RequestContext["customAttributes"]>().toEqualTypeOf<string | undefined>();
  expectTypeOf<RequestContext>().toHaveProperty("responseCustomAttributes");
  // @ts-expect-error the inference id is read-only
  const assign = (ctx: RequestContext) => (ctx.inferenceId = "x");
  assert.equal(typeof assign, "function");
});

test("outputs are a body or a body with its content type", () => {
  expectTypeOf<string>().toMatchTypeOf<HandlerOutput>();
  expectTypeOf<Buffer>().toMatchTypeOf<HandlerOutput>();
  expectTypeOf<{ body: string; contentType: string }>().toMatchTypeOf<HandlerOutput>();
  expectTypeOf<{ body: string }>().not.toMatchTypeOf<HandlerOutput>();
  expectTypeOf<number>().not.toMatchTypeOf<HandlerOutput>();
});

test("NDArray data follows its dtype", () => {
  expectTypeOf<NDArray<"float32">["data"]>().toEqualTypeOf<Float32Array>();
  expectTypeOf<NDArray<"int64">["data"]>().toEqualTypeOf<BigInt64Array>();
  expectTypeOf<NDArray<"string">["data"]>().toEqualTypeOf<string[]>();
});

test("users can throw InferenceError with a status and a code", () => {
  const error = new api.InferenceError("too dark", { statusCode: 422, code: "TOO_DARK" });
  expectTypeOf(error.statusCode).toEqualTypeOf<api.ErrorStatusCode>();
  assert.equal(error.statusCode, 422);
  assert.equal(new api.BadRequestError("x").statusCode, 400);
  assert.ok(api.isInferenceError(error));
});

test("the package entry exports what a handlers file needs, by name, and nothing else", () => {
  assert.deepEqual(Object.keys(api).sort(), [
    "BadRequestError",
    "ConfigurationError",
    "InferenceError",
    "InferenceTimeoutError",
    "ModelNotReadyError",
    "NotAcceptableError",
    "OverloadedError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "answerEarly",
    "defineStage",
    "elementCount",
    "isErrorStatusCode",
    "isInferenceError",
    "isNDArray",
    "negotiateAccept",
    "parseMediaType",
    "predictOnnx",
    "stages",
  ]);
});

test("the subpath entries export the codecs, the server and the gateway", () => {
  for (const name of ["startServer", "loadConfig", "loadOnnxModels", "loadOnnxModel", "releaseOnnxModels", "extractModelArchive"]) {
    assert.equal(typeof (server as Record<string, unknown>)[name], "function", name);
  }
  for (const name of ["builtinCodecs", "decodeNpy", "encodeNpy", "CodecRegistry", "createMultipartCodec"]) {
    assert.equal(typeof (codecs as Record<string, unknown>)[name], "function", name);
  }
  for (const codec of [codecs.jsonCodec, codecs.csvCodec, codecs.npyCodec, codecs.jsonLinesCodec, codecs.octetStreamCodec]) {
    expectTypeOf(codec).toEqualTypeOf<Codec>();
    assert.ok(codec.mediaTypes.length > 0);
  }
  for (const name of ["startAsyncGateway", "loadAsyncConfig", "HttpInvoker", "InProcessInvoker", "HttpModelHost", "InProcessModelHost"]) {
    assert.equal(typeof (gateway as Record<string, unknown>)[name], "function", name);
  }
});

test("ModelContext loaders are typed: a record or one session", () => {
  expectTypeOf<ReturnType<ModelContext["loadOnnxModel"]>>().toEqualTypeOf<Promise<InferenceSession>>();
  expectTypeOf<Awaited<ReturnType<ModelContext["loadOnnxModels"]>>>().toEqualTypeOf<api.OnnxSessions>();
});

test("a handlers file exports a pipeline of stages as `pipeline`: its stages' handlers are the documented ones", () => {
  type Spec = api.StageSpec<"input", "output", "model", "early">;
  expectTypeOf<Parameters<NonNullable<Spec["modelFn"]>>>().toEqualTypeOf<[modelPath: string, ctx: ModelContext]>();
  expectTypeOf<Parameters<Spec["predictFn"]>>().toEqualTypeOf<[input: "input", model: "model", ctx: RequestContext]>();
  expectTypeOf<ReturnType<Spec["predictFn"]>>().toEqualTypeOf<"output" | api.EarlyAnswer<"early"> | Promise<"output" | api.EarlyAnswer<"early">>>();
  expectTypeOf<api.StageSettings["workers"]>().toEqualTypeOf<number | undefined>();
  expectTypeOf<api.ComposedStages<"input", "output", "early">>().toMatchTypeOf<NonNullable<Handlers["pipeline"]>>();
  expectTypeOf<api.StageOutputFn<"answer">>().parameters.toEqualTypeOf<[answer: "answer", accept: string, ctx: RequestContext]>();
});
