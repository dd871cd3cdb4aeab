/**
 * The binary tensor data extension as a client writes and reads it (docs/kserve-v2.md): a JSON
 * header followed by raw tensor bytes, its length in `Inference-Header-Content-Length`. Written
 * here from the extension's text, independently of the server's code.
 */
import assert from "node:assert/strict";

/** A request body of `header` followed by `tensors`, with the headers that describe it. */
export function binaryRequest(header: object, tensors: readonly Uint8Array[]): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  return {
    body: Buffer.concat([json, ...tensors]),
    headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(json.length) },
  };
}

/** A response read as the extension lays it out: the JSON header, and the bytes after it. */
export async function readBinaryResponse(response: Response): Promise<{ header: Record<string, unknown>; binary: Buffer }> {
  const body = Buffer.from(await response.arrayBuffer());
  const lengthHeader = response.headers.get("inference-header-content-length");
  assert.ok(lengthHeader !== null, "a response with binary data gives its header length");
  const length = Number(lengthHeader);
  assert.equal(Number(response.headers.get("content-length")), body.length, "Content-Length is the whole body");
  return { header: JSON.parse(body.subarray(0, length).toString("utf8")) as Record<string, unknown>, binary: body.subarray(length) };
}

/** Little-endian FP32 values, as the extension sends them. */
export function float32Bytes(values: readonly number[]): Uint8Array {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes;
}

/** Reads little-endian FP32 values. */
export function readFloat32(bytes: Buffer): number[] {
  return Array.from({ length: bytes.length / 4 }, (_, index) => bytes.readFloatLE(index * 4));
}

/** Posts `body` to `/v2/models/{model}/infer`. */
export function infer(url: string, model: string, body: NonNullable<RequestInit["body"]>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v2/models/${model}/infer`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}
