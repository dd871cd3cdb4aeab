// The handlers, run in-process through the same pipeline `serve` uses: `npm test`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import sharp from "sharp";
import { createTestEndpoint, type TestEndpoint } from "sagemaker-byoc-node/testing";

let endpoint: TestEndpoint;
before(async () => {
  endpoint = await createTestEndpoint({ handlers: "code/inference.ts", modelDir: "model" });
});
after(() => endpoint.close());

/** A plain image of one grey level, encoded as PNG or JPEG. */
function plainImage(level: number, format: "png" | "jpeg"): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r: level, g: level, b: level } } })
    .toFormat(format)
    .toBuffer();
}

test("a bright PNG is bright, a dark JPEG is dark", async () => {
  const bright = await endpoint.invoke({ body: await plainImage(240, "png"), contentType: "image/png" });
  assert.equal(bright.json<{ label: string }>().label, "bright");
  const dark = await endpoint.invoke({ body: await plainImage(15, "jpeg"), contentType: "image/jpeg" });
  assert.equal(dark.json<{ label: string }>().label, "dark");
});

test("bytes that are no image are a 400; another content type is a 415", async () => {
  await assert.rejects(endpoint.invoke({ body: "not an image", contentType: "image/png" }), { statusCode: 400 });
  await assert.rejects(endpoint.invoke({ json: { image: "..." } }), { statusCode: 415 });
});
