/**
 * How KServe V2 requests go through a user's handlers (docs/kserve-v2.md, "Custom handlers"):
 * without inputFn the tensors reach predictFn as NDArrays by name and its prediction becomes the
 * outputs; with inputFn/outputFn (or transformFn) one BYTES element is the body they read and
 * their answer is one BYTES output; the request's parameters are ctx.parameters.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import type { RunningServer } from "../../../src/server.js";
import { buildIdentityModel, writeModel } from "../../helpers/onnx-models.js";
import { startTestServer } from "../../helpers/server.js";
import { binaryRequest, infer, readBinaryResponse } from "./v2-client.js";

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/handlers/${name}`, import.meta.url));

async function withServer(handlers: string, run: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startTestServer({ handlersPath: fixture(handlers) });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

interface Output {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data: unknown[];
  readonly parameters?: Record<string, unknown>;
}

test("predictFn gets the input tensors by name; its record of outputs becomes FP64, BYTES and BOOL tensors; parameters reach ctx", async () => {
  await withServer("kserve-tensors.ts", async (server) => {
    const request = {
      parameters: { temperature: 0.5, label: "demo" },
      inputs: [
        { name: "x", shape: [3], datatype: "INT32", data: [1, -2, 4] },
        { name: "mask", shape: [1, 2], datatype: "BOOL", data: [true, false] },
      ],
    };
    const response = await infer(server.url, "model", JSON.stringify(request));
    assert.equal(response.status, 200);
    const { outputs } = (await response.json()) as { outputs: Output[] };
    assert.deepEqual(outputs, [
      { name: "sum", datatype: "FP64", shape: [1], data: [3] },
      { name: "received", datatype: "BYTES", shape: [1], data: ["x:int32:[3] mask:bool:[1,2]"] },
      { name: "positive", datatype: "BOOL", shape: [3], data: [true, false, true] },
      { name: "parameters", datatype: "BYTES", shape: [1], data: [JSON.stringify({ temperature: 0.5, label: "demo" })] },
    ]);
  });
});

test("a model without a declared signature takes any inputs; asked-for outputs it lacks are a 400", async () => {
  await withServer("kserve-tensors.ts", async (server) => {
    const metadata = await (await fetch(`${server.url}/v2/models/model`)).json();
    assert.deepEqual(metadata, { name: "model", platform: "node_handlers", inputs: [], outputs: [] });
    const response = await infer(server.url, "model", JSON.stringify({ inputs: [{ name: "x", shape: [1], datatype: "FP32", data: [1] }], outputs: [{ name: "scores" }] }));
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'Unknown output "scores": the model\'s outputs are sum, received, positive, parameters' });
  });
});

test("inputFn gets the one BYTES element as its body, byte for byte, with the media type of its content_type parameter; outputFn's answer is the BYTES output", async () => {
  await withServer("kserve-bodies.ts", async (server) => {
    const image = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00]);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(image.length);
    const header = {
      parameters: { tenant: "a" },
      inputs: [{ name: "image", shape: [1], datatype: "BYTES", parameters: { binary_data_size: 4 + image.length, content_type: "image/png" } }],
      outputs: [{ name: "answer", parameters: { content_type: "application/json" } }],
    };
    const { body, headers } = binaryRequest(header, [length, image]);
    const response = await infer(server.url, "model", body, headers);
    assert.equal(response.status, 200);
    const { outputs } = (await response.json()) as { outputs: Output[] };
    assert.equal(outputs.length, 1);
    const [output] = outputs;
    assert.deepEqual({ ...output, data: undefined }, { name: "answer", datatype: "BYTES", shape: [1], parameters: { content_type: "application/json" }, data: undefined });
    assert.deepEqual(JSON.parse(String(output?.data[0])), { hex: "89504e47ff00", contentType: "image/png", parameters: { tenant: "a" }, accept: "application/json" });
  });
});

test("handlers that read bodies describe themselves as one BYTES input and output, and refuse other requests with a 400", async () => {
  await withServer("kserve-bodies.ts", async (server) => {
    assert.deepEqual(await (await fetch(`${server.url}/v2/models/model`)).json(), {
      name: "model",
      platform: "node_handlers",
      inputs: [{ name: "input", datatype: "BYTES", shape: [1] }],
      outputs: [{ name: "output", datatype: "BYTES", shape: [1] }],
    });
    const twoInputs = { inputs: [{ name: "a", shape: [1], datatype: "BYTES", data: ["x"] }, { name: "b", shape: [1], datatype: "BYTES", data: ["y"] }] };
    const refused = await infer(server.url, "model", JSON.stringify(twoInputs));
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /send one BYTES input with one element/);
    const numbers = await infer(server.url, "model", JSON.stringify({ inputs: [{ name: "a", shape: [1], datatype: "FP32", data: [1] }] }));
    assert.equal(numbers.status, 400);
  });
});

test("without content_type parameters the server's default media types apply, and the output is named output", async () => {
  await withServer("kserve-bodies.ts", async (server) => {
    const response = await infer(server.url, "model", JSON.stringify({ inputs: [{ name: "text", shape: [1], datatype: "BYTES", data: ["hi"] }] }));
    const { outputs } = (await response.json()) as { outputs: Output[] };
    assert.equal(outputs[0]?.name, "output");
    assert.deepEqual(JSON.parse(String(outputs[0]?.data[0])), { hex: "6869", contentType: "application/json", parameters: null, accept: "application/json" });
  });
});

test("transformFn's answer comes back as binary BYTES when binary output is asked for", async () => {
  await withServer("byte-echo.ts", async (server) => {
    const response = await infer(server.url, "model", JSON.stringify({ inputs: [{ name: "in", shape: [1], datatype: "BYTES", data: ["ping"] }], parameters: { binary_data_output: true } }));
    const { header, binary } = await readBinaryResponse(response);
    assert.deepEqual(header["outputs"], [{ name: "output", datatype: "BYTES", shape: [1], parameters: { content_type: "application/octet-stream", binary_data_size: 8 } }]);
    assert.equal(binary.readUInt32LE(0), 4);
    assert.equal(binary.subarray(4).toString("utf8"), "ping");
  });
});

test("bytes that are not UTF-8 cannot go out as JSON: a 406 that says to ask for binary data", async () => {
  await withServer("byte-echo.ts", async (server) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(2);
    const { body, headers } = binaryRequest({ inputs: [{ name: "in", shape: [1], datatype: "BYTES", parameters: { binary_data_size: 6 } }] }, [length, Uint8Array.from([0xff, 0xfe])]);
    const response = await infer(server.url, "model", body, headers);
    assert.equal(response.status, 406);
    assert.match(((await response.json()) as { error: string }).error, /not UTF-8 text.*"binary_data": true/);
  });
});

test("BYTES inputs reach a model that takes strings as UTF-8 strings; bytes that are not UTF-8 are a 400 there", async () => {
  const modelDir = await mkdtemp(join(tmpdir(), "v2-strings-"));
  await writeModel(modelDir, "echo.onnx", buildIdentityModel("string", ["n"]));
  const server = await startTestServer({ modelDir });
  try {
    const response = await infer(server.url, "model", JSON.stringify({ inputs: [{ name: "x", shape: [2], datatype: "BYTES", data: ["héllo", "wörld"] }] }));
    assert.equal(response.status, 200);
    assert.deepEqual(((await response.json()) as { outputs: Output[] }).outputs, [{ name: "y", datatype: "BYTES", shape: [2], data: ["héllo", "wörld"] }]);
    const { body, headers } = binaryRequest({ inputs: [{ name: "x", shape: [1], datatype: "BYTES", parameters: { binary_data_size: 5 } }] }, [Uint8Array.from([1, 0, 0, 0, 0xff])]);
    const refused = await infer(server.url, "model", body, headers);
    assert.equal(refused.status, 400);
    assert.deepEqual(await refused.json(), { error: 'Input "x": BYTES element 0 is not UTF-8 text, and the model takes strings' });
  } finally {
    await server.close();
    await rm(modelDir, { recursive: true, force: true });
  }
});
