// The handlers, run in-process through the same pipeline `serve` uses: `npm test`.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestEndpoint, type TestEndpoint } from "sagemaker-byoc-node/testing";

let endpoint: TestEndpoint;
before(async () => {
  endpoint = await createTestEndpoint({ handlers: "code/inference.ts", modelDir: "model" });
});
after(() => endpoint.close());

test("a setosa row, sent as JSON, is classified as setosa", async () => {
  const response = await endpoint.invoke({ json: { instances: [[5.1, 3.5, 1.4, 0.2]] } });
  const { predictions } = response.json<{ predictions: { label: string; probabilities: Record<string, number> }[] }>();
  assert.equal(predictions[0]?.label, "setosa");
  assert.ok((predictions[0]?.probabilities["setosa"] ?? 0) > 0.9);
});

test("CSV rows get one label each", async () => {
  const response = await endpoint.invoke({ body: "5.1,3.5,1.4,0.2\n6.9,3.1,5.4,2.1", contentType: "text/csv" });
  const { predictions } = response.json<{ predictions: { label: string }[] }>();
  assert.deepEqual(
    predictions.map((prediction) => prediction.label),
    ["setosa", "virginica"],
  );
});

test("a row with the wrong number of features is a 400 naming the row", async () => {
  await assert.rejects(endpoint.invoke({ json: { instances: [[5.1, 3.5, 1.4]] } }), { statusCode: 400, message: /Row 0 must hold 4 numbers/ });
});
