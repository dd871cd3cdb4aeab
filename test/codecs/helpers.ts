import assert from "node:assert/strict";
import type { Codec } from "../../src/codecs/codec.js";
import type { InferenceError } from "../../src/errors.js";
import { parseMediaType } from "../../src/codecs/media-type.js";

type ErrorClass = abstract new (...args: never[]) => InferenceError;

/** Decodes `body` with `codec` as the registry would, parsing `contentType` first. */
export async function decodeWith(codec: Codec, body: Buffer | string, contentType = codec.mediaTypes[0] as string): Promise<unknown> {
  assert.ok(codec.decode, "the codec cannot decode");
  return codec.decode(Buffer.isBuffer(body) ? body : Buffer.from(body), { mediaType: parseMediaType(contentType) });
}

/** Encodes `value` with `codec` in its first media type. */
export async function encodeWith(codec: Codec, value: unknown): Promise<Uint8Array | string> {
  assert.ok(codec.encode, "the codec cannot encode");
  return codec.encode(value, { mediaType: parseMediaType(codec.mediaTypes[0] as string) });
}

/** Asserts that `action` fails with an instance of `expected`, its status code and a message matching `message`. */
export async function assertFails(
  action: () => unknown,
  expected: ErrorClass,
  statusCode: number,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(
    async () => action(),
    (error: unknown) => {
      assert.ok(error instanceof expected, `expected ${expected.name}, got ${String(error)}`);
      assert.equal(error.statusCode, statusCode);
      if (typeof message === "string") assert.ok(error.message.includes(message), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(message)}`);
      else assert.match(error.message, message);
      return true;
    },
  );
}
