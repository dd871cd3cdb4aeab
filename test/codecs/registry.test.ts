import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Codec } from "../../src/codecs/codec.js";
import { builtinCodecs, decodeNpy, encodeNpy } from "../../src/codecs/index.js";
import { CodecRegistry } from "../../src/codecs/registry.js";
import { BadRequestError, NotAcceptableError, UnsupportedMediaTypeError } from "../../src/errors.js";
import type { MediaType } from "../../src/codecs/media-type.js";
import type { NDArray } from "../../src/tensor/ndarray.js";
import { assertFails } from "./helpers.js";

const JSON_TYPE = "application/json";
const registry = new CodecRegistry(builtinCodecs());

describe("choosing a decoder by Content-Type", () => {
  test("ignores case and parameters", async () => {
    assert.deepEqual(await registry.decode(Buffer.from("1,2\n3,4"), "Text/CSV; charset=utf-8"), [[1, 2], [3, 4]]);
    assert.deepEqual(await registry.decode(Buffer.from('{"instances": [1]}'), "APPLICATION/JSON;charset=UTF-8"), [1]);
  });

  test("decodes every built-in request type", async () => {
    const array: NDArray = { dtype: "int32", shape: [2], data: new Int32Array([3, 4]) };
    assert.deepEqual(await registry.decode(encodeNpy(array), "application/x-npy"), array);
    assert.deepEqual(await registry.decode(Buffer.from("1\n2\n"), "application/x-jsonlines"), [1, 2]);
    const bytes = Buffer.from([1, 2]);
    assert.equal(await registry.decode(bytes, "application/octet-stream"), bytes);
    const form = Buffer.from('--b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--b--\r\n');
    assert.deepEqual(await registry.decode(form, "multipart/form-data; boundary=b"), { fields: { k: "v" }, files: [] });
  });

  test("answers an unsupported type with 415 listing the supported ones", async () => {
    await assertFails(
      () => registry.decode(Buffer.from("x"), "image/png"),
      UnsupportedMediaTypeError,
      415,
      "Content-Type image/png is not supported; send one of: application/json, application/jsonlines, application/x-jsonlines, application/jsonl, text/csv, application/x-npy, application/x-recordio, application/octet-stream, multipart/form-data",
    );
  });

  test("answers a malformed Content-Type with 400", async () => {
    await assertFails(() => registry.decode(Buffer.from("x"), "not a media type"), BadRequestError, 400, 'Malformed Content-Type header: "not a media type"');
  });
});

describe("choosing the response type from Accept", () => {
  test("gives the default when Accept is missing, empty or */*", () => {
    assert.equal(registry.negotiate(undefined, JSON_TYPE), JSON_TYPE);
    assert.equal(registry.negotiate("", JSON_TYPE), JSON_TYPE);
    assert.equal(registry.negotiate("*/*", JSON_TYPE), JSON_TYPE);
    assert.equal(registry.negotiate("*/*", "text/csv"), "text/csv");
    assert.equal(registry.negotiate("*/*;q=0.8", "application/x-npy"), "application/x-npy");
  });

  test("honours q-values", () => {
    assert.equal(registry.negotiate("text/csv;q=0.5, application/json", JSON_TYPE), JSON_TYPE);
    assert.equal(registry.negotiate("application/json;q=0.1, text/csv", JSON_TYPE), "text/csv");
    assert.equal(registry.negotiate("image/png, */*;q=0.1", "text/csv"), "text/csv");
  });

  test("ignores case in Accept", () => {
    assert.equal(registry.negotiate("TEXT/CSV", JSON_TYPE), "text/csv");
  });

  test("matches type wildcards such as text/*", () => {
    assert.equal(registry.negotiate("text/*", JSON_TYPE), "text/csv");
    assert.equal(registry.negotiate("image/*, application/*;q=0.5", "application/x-npy"), "application/x-npy");
  });

  test("prefers a specific type over a wildcard of the same quality", () => {
    assert.equal(registry.negotiate("*/*;q=0.8, text/csv;q=0.8", JSON_TYPE), "text/csv");
  });

  test("ignores parameters in Accept", () => {
    assert.equal(registry.negotiate("text/csv; charset=utf-8", JSON_TYPE), "text/csv");
    assert.equal(registry.negotiate("application/json; charset=utf-8", "text/csv"), JSON_TYPE);
    assert.equal(registry.negotiate("text/csv; charset=utf-8; q=0.1, application/json; q=0.9", "text/csv"), JSON_TYPE);
  });

  test("answers 406 when nothing acceptable can be encoded, listing what can", async () => {
    await assertFails(
      () => registry.negotiate("image/png", JSON_TYPE),
      NotAcceptableError,
      406,
      'Accept "image/png" matches no supported response type; accept one of: application/json, application/jsonlines, application/x-jsonlines, application/jsonl, text/csv, application/x-npy, application/x-recordio, application/octet-stream',
    );
    await assertFails(() => registry.negotiate("application/json;q=0", JSON_TYPE), NotAcceptableError, 406, 'Accept "application/json;q=0"');
    await assertFails(() => registry.negotiate("multipart/form-data", JSON_TYPE), NotAcceptableError, 406, "matches no supported response type");
  });
});

describe("negotiation cache", () => {
  test("a codec registered later changes the answer for an Accept header seen before", () => {
    const custom = new CodecRegistry(builtinCodecs());
    const accept = "text/html, application/json;q=0.5";
    assert.equal(custom.negotiate(accept, JSON_TYPE), JSON_TYPE);
    custom.register({ mediaTypes: ["text/html"], encode: () => "<p>" });
    assert.equal(custom.negotiate(accept, JSON_TYPE), "text/html");
  });

  test("the answer depends on the default type as well as the header", () => {
    const custom = new CodecRegistry(builtinCodecs());
    assert.equal(custom.negotiate("*/*", JSON_TYPE), JSON_TYPE);
    assert.equal(custom.negotiate("*/*", "text/csv"), "text/csv");
  });

  test("many distinct Accept headers keep getting right answers past the cache bound", () => {
    const custom = new CodecRegistry(builtinCodecs());
    for (let index = 0; index < 600; index++) {
      const preferCsv = index % 2 === 0;
      const accept = `text/csv;q=${preferCsv ? "0.9" : "0.1"}, application/json;q=0.5, x-unused/type-${index}`;
      assert.equal(custom.negotiate(accept, JSON_TYPE), preferCsv ? "text/csv" : JSON_TYPE);
    }
  });
});

describe("encoding and overriding", () => {
  test("encodes in the negotiated type and says which it used", async () => {
    const type = registry.negotiate("application/x-npy", JSON_TYPE);
    const array: NDArray = { dtype: "float32", shape: [1], data: new Float32Array([0.5]) };
    const { body, contentType } = await registry.encode({ scores: array }, type);
    assert.equal(contentType, "application/x-npy");
    assert.deepEqual(decodeNpy(body as Uint8Array), array);
    assert.deepEqual(await registry.encode([1, 2], "text/csv"), { body: "1\n2\n", contentType: "text/csv" });
  });

  test("lets a codec registered later replace a built-in one, direction by direction", async () => {
    const upperCsv: Codec = { mediaTypes: ["TEXT/CSV"], decode: (body) => body.toString("utf8").toUpperCase() };
    const custom = new CodecRegistry([...builtinCodecs(), upperCsv]);
    assert.equal(await custom.decode(Buffer.from("a,b"), "text/csv"), "A,B");
    assert.deepEqual(await custom.encode([[1, 2]], "text/csv"), { body: "1,2\n", contentType: "text/csv" });
  });

  test("passes the parsed Content-Type, parameters included, to the decoder", async () => {
    let seen: unknown;
    const probe: Codec = { mediaTypes: ["text/plain"], decode: (_body, { mediaType }) => (seen = mediaType) };
    await new CodecRegistry([probe]).decode(Buffer.from(""), "Text/Plain; Charset=ISO-8859-1");
    const mediaType = seen as MediaType;
    assert.equal(mediaType.essence, "text/plain");
    assert.deepEqual({ ...mediaType.parameters }, { charset: "ISO-8859-1" });
  });
});
