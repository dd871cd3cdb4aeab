/**
 * Type tests for the public API: `npm test` type-checks this file (tsc), so a change to the
 * handler contract that would break users' handlers files fails the build. The runtime
 * assertions check the package entry exports what the types promise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectTypeOf } from "expect-type";
import type { Logger } from "pino";
import * as api from "../../src/index.js";
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
  expectTypeOf(error.statusCode).toEqualTypeOf<number>();
  assert.equal(error.statusCode, 422);
  assert.equal(new api.BadRequestError("x").statusCode, 400);
  assert.ok(api.isInferenceError(error));
});

test("the package entry exports the runtime API by name", () => {
  for (const name of ["startServer", "loadConfig", "InferencePipeline", "CodecRegistry", "predictOnnx", "loadOnnxModels", "builtinCodecs", "decodeNpy", "encodeNpy", "extractModelArchive"]) {
    assert.equal(typeof (api as Record<string, unknown>)[name], "function", name);
  }
  for (const codec of [api.jsonCodec, api.csvCodec, api.npyCodec, api.jsonLinesCodec, api.octetStreamCodec]) {
    expectTypeOf(codec).toEqualTypeOf<Codec>();
    assert.ok(codec.mediaTypes.length > 0);
  }
});
