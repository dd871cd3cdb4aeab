import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { InvokeEndpointWithResponseStreamCommand, ModelError, ModelStreamError } from "@aws-sdk/client-sagemaker-runtime";
import { HttpInvoker, InProcessInvoker, type Invoker } from "../../src/gateway/invoker.js";
import type { RunningServer } from "../../src/server.js";
import { startAsyncStack, type AsyncStack } from "../helpers/async-stack.js";
import { irisModelDir, startTestServer } from "../helpers/server.js";

const handlersPath = fileURLToPath(new URL("../fixtures/handlers/streaming.ts", import.meta.url));
let server: RunningServer;
const stacks: AsyncStack[] = [];
before(async () => {
  server = await startTestServer({ modelDir: irisModelDir, handlersPath, workers: 1 });
  await server.loaded;
});
after(async () => {
  for (const stack of stacks) await stack.close();
  await server.close();
});

async function gateway(invoker: Invoker): Promise<AsyncStack> {
  const stack = await startAsyncStack({}, { invoker });
  stacks.push(stack);
  return stack;
}

async function streamed(stack: AsyncStack, behaviour: string): Promise<{ parts: string[]; contentType: string | undefined }> {
  const answer = await stack.runtime.send(
    new InvokeEndpointWithResponseStreamCommand({ EndpointName: "test-endpoint", Body: Buffer.from("x"), ContentType: "text/plain", CustomAttributes: behaviour }),
  );
  const parts: string[] = [];
  for await (const event of answer.Body ?? []) {
    if (event.PayloadPart?.Bytes !== undefined) parts.push(Buffer.from(event.PayloadPart.Bytes).toString());
  }
  return { parts, contentType: answer.ContentType };
}

for (const [name, makeInvoker] of [
  ["in the model server's process", () => new InProcessInvoker(server)],
  ["beside a container, over HTTP", () => new HttpInvoker(`${server.url}/invocations`)],
] as const) {
  test(`${name}: the unmodified SDK's InvokeEndpointWithResponseStream reads each chunk of a streaming handler as a PayloadPart`, async () => {
    const stack = await gateway(makeInvoker());
    const { parts, contentType } = await streamed(stack, "lines=4");
    const lines = [0, 1, 2, 3].map((row) => `${JSON.stringify({ row })}\n`);
    // In process each chunk is one event; over HTTP, TCP may join chunks the container wrote close together.
    if (name.startsWith("in the model server")) assert.deepEqual(parts, lines);
    else assert.equal(parts.join(""), lines.join(""));
    assert.equal(contentType, "application/jsonlines");
  });

  test(`${name}: a failure after the stream began reaches the SDK as ModelStreamError; one before it as ModelError with the container's status`, async () => {
    const stack = await gateway(makeInvoker());
    await assert.rejects(streamed(stack, "fail-midway=3"), (error: unknown) => {
      assert.ok(error instanceof ModelStreamError, `a ModelStreamError, got ${(error as Error).name}`);
      assert.equal(error.ErrorCode, "StreamBroken");
      return true;
    });
    await assert.rejects(streamed(stack, "fail-first"), (error: unknown) => {
      assert.ok(error instanceof ModelError, `a ModelError, got ${(error as Error).name}`);
      assert.equal(error.OriginalStatusCode, 422);
      return true;
    });
  });
}
