/**
 * Type tests for the status an InferenceError takes: TypeScript users see that it is 400 to 599.
 * `npm test` type-checks this file, so a change that widened the type again fails the build.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectTypeOf } from "expect-type";
import * as api from "../../src/index.js";
import type { ErrorStatusCode } from "../../src/index.js";

test("ErrorStatusCode is exactly the integers from 400 to 599", () => {
  expectTypeOf<400>().toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<422>().toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<599>().toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<200>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<302>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<399>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<600>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<1000>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<number>().not.toMatchTypeOf<ErrorStatusCode>();
  expectTypeOf<api.InferenceError["statusCode"]>().toEqualTypeOf<ErrorStatusCode>();
});

test("an InferenceError takes a 4xx/5xx status; a number known only at run time is narrowed with isErrorStatusCode", () => {
  assert.equal(new api.InferenceError("too dark", { statusCode: 422 }).statusCode, 422);
  // @ts-expect-error a success status is not an error status
  assert.equal(new api.InferenceError("x", { statusCode: 200 }).statusCode, 200);
  const upstream: number = 503;
  // @ts-expect-error a plain number may be anything
  assert.equal(new api.InferenceError("x", { statusCode: upstream }).statusCode, 503);
  assert.ok(api.isErrorStatusCode(upstream));
  if (api.isErrorStatusCode(upstream)) assert.equal(new api.InferenceError("upstream", { statusCode: upstream }).statusCode, 503);
});
