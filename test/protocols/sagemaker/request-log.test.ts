import assert from "node:assert/strict";
import { after, test } from "node:test";
import { spawnServe, type ServeChild } from "../../helpers/serve-child.js";

let server: ServeChild | undefined;
after(() => server?.child.kill("SIGKILL"));

test("the one log line per invocation splits its time into queue, decode, predict and encode, and holds no payload", async () => {
  server = await spawnServe(["--workers", "1"]);
  const body = JSON.stringify({ instances: [[5.123457, 3.5, 1.4, 0.2]] });
  const response = await fetch(`${server.url}/invocations`, { method: "POST", body, headers: { "content-type": "application/json", "x-amzn-sagemaker-inference-id": "logged-1" } });
  assert.equal(response.status, 200);
  const line = await server.waitForLog((entry) => entry["msg"] === "invocation" && entry["inferenceId"] === "logged-1");
  for (const stage of ["queueMs", "decodeMs", "predictMs", "encodeMs"]) {
    assert.equal(typeof line[stage], "number", stage);
    assert.ok((line[stage] as number) >= 0, stage);
  }
  assert.ok((line["queueMs"] as number) + (line["decodeMs"] as number) + (line["predictMs"] as number) + (line["encodeMs"] as number) <= (line["ms"] as number) + 0.05);
  assert.equal(line["status"], 200);
  assert.ok(!JSON.stringify(line).includes("5.123457"), "the payload is not logged");
});
