import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { builtinCodecs } from "../../src/codecs/index.js";
import { createMultipartCodec, defaultMultipartLimits } from "../../src/codecs/multipart.js";
import type { MultipartForm, MultipartLimits } from "../../src/codecs/multipart.js";
import { BadRequestError, ConfigurationError } from "../../src/errors.js";
import { parseMediaType } from "../../src/codecs/media-type.js";

const BOUNDARY = "----byoc-test-7MA4YWxkTrZu0gW";

interface Part {
  readonly name?: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly headers?: readonly string[];
  readonly body: string | Buffer;
}

/** A multipart/form-data body as RFC 7578 lays it out: parts between CRLF-delimited boundaries. */
function formBody(parts: readonly Part[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = ["form-data"];
    if (part.name !== undefined) disposition.push(`name="${part.name}"`);
    if (part.filename !== undefined) disposition.push(`filename="${part.filename}"`);
    const headers = [`Content-Disposition: ${disposition.join("; ")}`, ...(part.headers ?? [])];
    if (part.contentType !== undefined) headers.push(`Content-Type: ${part.contentType}`);
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join("\r\n")}\r\n\r\n`), Buffer.from(part.body), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

async function decodeForm(
  body: Buffer,
  limits: Partial<MultipartLimits> = {},
  contentType = `multipart/form-data; boundary=${BOUNDARY}`,
): Promise<MultipartForm> {
  const codec = createMultipartCodec(limits);
  assert.ok(codec.decode);
  return (await codec.decode(body, { mediaType: parseMediaType(contentType) })) as MultipartForm;
}

async function assertRejected(form: Promise<unknown>, code: string, message: string): Promise<void> {
  await assert.rejects(form, (error: unknown) => {
    assert.ok(error instanceof BadRequestError, `expected BadRequestError, got ${String(error)}`);
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(message), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(message)}`);
    return true;
  });
}

/** Bytes that a careless parser would mistake for text or for a boundary. */
const BINARY = Buffer.concat([Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x2d, 0x2d, 0x89, 0x50, 0x4e, 0x47]), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}`), Buffer.from([0xfe, 0x0d])]);

describe("decoding multipart/form-data", () => {
  test("gives the text fields by name and the files with their bytes intact", async () => {
    const body = formBody([
      { name: "threshold", body: "0.5" },
      { name: "caption", body: "ünïcödé, with a\r\nline break" },
      { name: "image", filename: "cat.png", contentType: "image/png", body: BINARY },
    ]);
    const form = await decodeForm(body);
    assert.deepEqual(form.fields, { threshold: "0.5", caption: "ünïcödé, with a\r\nline break" });
    assert.equal(form.files.length, 1);
    const [image] = form.files;
    assert.equal(image?.fieldName, "image");
    assert.equal(image?.filename, "cat.png");
    assert.equal(image?.mimeType, "image/png");
    assert.ok(image?.data.equals(BINARY), "the file bytes changed");
  });

  test("keeps files in order, strips directories from file names and reports missing types as text/plain", async () => {
    const body = formBody([
      { name: "a", filename: "../../etc/passwd", body: "first" },
      { name: "b", filename: "empty.bin", contentType: "application/octet-stream", body: "" },
      { name: "c", contentType: "application/octet-stream", body: "no file name" },
    ]);
    const { files } = await decodeForm(body);
    assert.deepEqual(
      files.map(({ fieldName, filename, mimeType, data }) => ({ fieldName, filename, mimeType, text: data.toString() })),
      [
        { fieldName: "a", filename: "passwd", mimeType: "text/plain", text: "first" },
        { fieldName: "b", filename: "empty.bin", mimeType: "application/octet-stream", text: "" },
        { fieldName: "c", filename: undefined, mimeType: "application/octet-stream", text: "no file name" },
      ],
    );
  });

  test("reads a quoted boundary and a Content-Type in any case", async () => {
    const boundary = "a:b c=d";
    const body = formBody([{ name: "x", body: "1" }], boundary);
    const form = await decodeForm(body, {}, `Multipart/Form-Data; Boundary="${boundary}"`);
    assert.deepEqual(form.fields, { x: "1" });
  });

  test("accepts a boundary of RFC 2046's 70 characters and refuses a longer one with a 400", async () => {
    const longest = "b".repeat(70);
    assert.deepEqual((await decodeForm(formBody([{ name: "x", body: "1" }], longest), {}, `multipart/form-data; boundary=${longest}`)).fields, { x: "1" });
    const tooLong = "b".repeat(71);
    await assertRejected(
      decodeForm(formBody([{ name: "x", body: "1" }], tooLong), {}, `multipart/form-data; boundary=${tooLong}`),
      "MULTIPART_NO_BOUNDARY",
      "boundary is 71 characters; RFC 2046 allows at most 70",
    );
  });

  test('stores a field named "__proto__" like any other', async () => {
    const form = await decodeForm(formBody([{ name: "__proto__", body: "value" }]));
    assert.equal(Object.getOwnPropertyDescriptor(form.fields, "__proto__")?.value, "value");
    assert.equal(Object.getPrototypeOf(form.fields), Object.prototype);
  });

  test("accepts a body exactly at every limit", async () => {
    const limits = { maxFiles: 2, maxFileBytes: 8, maxFields: 2, maxFieldBytes: 4 };
    const body = formBody([
      { name: "f1", filename: "1.bin", body: Buffer.alloc(8, 1) },
      { name: "f2", filename: "2.bin", body: Buffer.alloc(8, 2) },
      { name: "a", body: "abcd" },
      { name: "b", body: "efgh" },
    ]);
    const form = await decodeForm(body, limits);
    assert.equal(form.files.length, 2);
    assert.deepEqual(form.fields, { a: "abcd", b: "efgh" });
  });
});

describe("multipart/form-data limits", () => {
  test("rejects more files than maxFiles", async () => {
    const body = formBody([1, 2, 3].map((n) => ({ name: `f${n}`, filename: `${n}.bin`, body: "x" })));
    await assertRejected(decodeForm(body, { maxFiles: 2 }), "MULTIPART_LIMIT", "multipart/form-data has more than 2 files (maxFiles)");
    await assertRejected(decodeForm(body, { maxFiles: 0 }), "MULTIPART_LIMIT", "more than 0 files (maxFiles)");
  });

  test("rejects a file larger than maxFileBytes", async () => {
    const body = formBody([{ name: "image", filename: "big.bin", body: Buffer.alloc(1025) }]);
    await assertRejected(decodeForm(body, { maxFileBytes: 1024 }), "MULTIPART_LIMIT", 'file "image" is larger than 1024 bytes (maxFileBytes)');
  });

  test("rejects more fields than maxFields and a field longer than maxFieldBytes", async () => {
    const fields = formBody([1, 2, 3].map((n) => ({ name: `k${n}`, body: "v" })));
    await assertRejected(decodeForm(fields, { maxFields: 2 }), "MULTIPART_LIMIT", "more than 2 fields (maxFields)");
    const long = formBody([{ name: "prompt", body: "x".repeat(11) }]);
    await assertRejected(decodeForm(long, { maxFieldBytes: 10 }), "MULTIPART_LIMIT", 'field "prompt" is longer than 10 bytes (maxFieldBytes)');
  });

  test("rejects more parts than maxParts, which defaults to maxFiles + maxFields", async () => {
    const body = formBody([
      { name: "a", body: "1" },
      { name: "b", body: "2" },
      { name: "f", filename: "f.bin", body: "3" },
    ]);
    await assertRejected(decodeForm(body, { maxParts: 2 }), "MULTIPART_LIMIT", "more than 2 parts (maxParts)");
    await assertRejected(decodeForm(body, { maxFiles: 1, maxFields: 1 }), "MULTIPART_LIMIT", "more than 1 fields (maxFields)");
    assert.equal((await decodeForm(body, { maxFiles: 1, maxFields: 2 })).files.length, 1);
  });

  test("has documented defaults that builtinCodecs applies under the given overrides", async () => {
    assert.deepEqual(defaultMultipartLimits, { maxFiles: 10, maxFileBytes: 6 * 1024 * 1024, maxFields: 100, maxFieldBytes: 1024 * 1024, maxParts: 110 });
    const codec = builtinCodecs({ multipart: { maxFiles: 1 } }).find((candidate) => candidate.mediaTypes.includes("multipart/form-data"));
    assert.ok(codec?.decode);
    assert.equal(codec.encode, undefined);
    const twoFiles = formBody([{ name: "a", filename: "a", body: "1" }, { name: "b", filename: "b", body: "2" }]);
    const mediaType = parseMediaType(`multipart/form-data; boundary=${BOUNDARY}`);
    await assertRejected(Promise.resolve(codec.decode(twoFiles, { mediaType })), "MULTIPART_LIMIT", "more than 1 files (maxFiles)");
  });

  test("refuses invalid limits at start-up with a ConfigurationError", () => {
    assert.throws(() => createMultipartCodec({ maxFiles: -1 }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.message, "Multipart limit maxFiles must be an integer ≥ 0, got -1");
      return true;
    });
    assert.throws(() => createMultipartCodec({ maxFileBytes: 0 }), /maxFileBytes must be an integer ≥ 1, got 0/);
    assert.throws(() => createMultipartCodec({ maxFields: 1.5 }), /maxFields must be an integer ≥ 0, got 1.5/);
  });
});

describe("hostile multipart/form-data bodies", () => {
  test("rejects a Content-Type without a boundary", async () => {
    await assertRejected(decodeForm(formBody([{ name: "a", body: "1" }]), {}, "multipart/form-data"), "MULTIPART_NO_BOUNDARY", "needs a boundary parameter");
    await assertRejected(decodeForm(formBody([{ name: "a", body: "1" }]), {}, 'multipart/form-data; boundary=""'), "MULTIPART_NO_BOUNDARY", "needs a boundary parameter");
  });

  test("rejects garbage, or a body written with another boundary", async () => {
    await assertRejected(decodeForm(Buffer.from("this is not multipart at all")), "MALFORMED_MULTIPART", "Malformed multipart/form-data body: Unexpected end of form");
    await assertRejected(decodeForm(formBody([{ name: "a", body: "1" }], "other-boundary")), "MALFORMED_MULTIPART", "is the boundary in Content-Type the one the body uses?");
  });

  test("rejects a body cut off in the middle of a file", async () => {
    const body = formBody([{ name: "image", filename: "cat.png", body: BINARY }]);
    await assertRejected(decodeForm(body.subarray(0, body.length - 30)), "MALFORMED_MULTIPART", "Malformed multipart/form-data body: Unexpected end of");
  });

  test("rejects a part whose headers never end", async () => {
    const body = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n${"X-Junk: y\r\n".repeat(3000)}`);
    await assertRejected(decodeForm(body), "MALFORMED_MULTIPART", "Malformed multipart/form-data body: Malformed part header");
  });

  test("rejects a part without a name", async () => {
    await assertRejected(decodeForm(formBody([{ body: "anonymous" }])), "BAD_REQUEST", "part 1 has no name in its Content-Disposition");
  });

  test("rejects a field name given twice rather than dropping a value", async () => {
    const body = formBody([{ name: "k", body: "1" }, { name: "k", body: "2" }]);
    await assertRejected(decodeForm(body), "BAD_REQUEST", 'field "k" appears more than once');
  });
});
