// The handlers, run in-process through the same pipeline `serve` uses: `npm test`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestEndpoint, type TestEndpoint } from "sagemaker-byoc-node/testing";

let endpoint: TestEndpoint;
before(async () => {
  endpoint = await createTestEndpoint({ handlers: "code/inference.ts", modelDir: "model" });
});
after(() => endpoint.close());

test("text with more good words than bad is positive", async () => {
  const response = await endpoint.invoke({ body: "Great food, friendly staff, slow service.", contentType: "text/plain" });
  assert.deepEqual(response.json(), { sentiment: "positive", score: 1 / 3, matched: { positive: ["great", "friendly"], negative: ["slow"] } });
});

test("JSON works too; no known word is neutral", async () => {
  const response = await endpoint.invoke({ json: { text: "The parcel arrived on Tuesday." } });
  assert.equal(response.json<{ sentiment: string }>().sentiment, "neutral");
});

test("wrong content type, accept or body: 415, 406, 400", async () => {
  await assert.rejects(endpoint.invoke({ body: "a,b", contentType: "text/csv" }), { statusCode: 415 });
  await assert.rejects(endpoint.invoke({ body: "good", contentType: "text/plain", accept: "text/csv" }), { statusCode: 406 });
  await assert.rejects(endpoint.invoke({ json: { words: ["good"] } }), { statusCode: 400 });
});
