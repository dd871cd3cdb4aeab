import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { loadGeneratorName, type MmeLoadOptions, type MmeLoadRun } from "../../bench/mme-load.js";
import { runNodeForJson } from "../../bench/processes.js";

describe("the multi-model benchmark's load generator", () => {
  let server: Server;
  let url: string;
  /** Each request's path and target-model header, in arrival order. */
  const seen: string[] = [];
  before(async () => {
    server = createServer((request, response) => {
      const target = request.headers["x-amzn-sagemaker-target-model"];
      seen.push(`${request.url} ${typeof target === "string" ? target : "-"}`);
      request.resume();
      request.on("end", () => {
        // One path fails, so failures are counted.
        response.statusCode = request.url === "/fails" ? 500 : 200;
        response.end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (options: Partial<MmeLoadOptions>): Promise<MmeLoadRun> =>
    runNodeForJson<MmeLoadRun>([
      "--import",
      "tsx",
      "bench/mme-load.ts",
      JSON.stringify({ url, targets: [], body: "{}", contentType: "application/json", connections: 2, seconds: 1, warmUpSeconds: 0, pids: { server: process.pid }, ...options } satisfies MmeLoadOptions),
    ]);

  test("sends the targets in turn with their headers, counts the answers, and reads the CPU time of the named processes and its own", async () => {
    seen.length = 0;
    // Two clients, three targets: each client goes round all three.
    const measured = await run({ targets: [{ path: "/a", headers: { "x-amzn-sagemaker-target-model": "m0.tar.gz" } }, { path: "/b" }, { path: "/c" }] });
    assert.equal(measured.errors, 0);
    assert.ok(measured.requests > 10, `${measured.requests} requests`);
    assert.equal(measured.requests, seen.length);
    assert.ok(Math.abs(measured.requestsPerSecond - measured.requests / measured.seconds) < 1e-6);
    assert.deepEqual(new Set(seen), new Set(["/a m0.tar.gz", "/b -", "/c -"]));
    const counts = ["/a", "/b", "/c"].map((path) => seen.filter((line) => line.startsWith(`${path} `)).length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `requests per target: ${counts.join(", ")}`);
    assert.deepEqual(Object.keys(measured.cpuMs).sort(), [loadGeneratorName, "server"].sort());
    assert.ok(measured.machineCpuMs >= (measured.cpuMs[loadGeneratorName] ?? 0));
  });

  test("counts answers other than 200 as errors, not requests", async () => {
    const measured = await run({ targets: [{ path: "/fails" }] });
    assert.equal(measured.requests, 0);
    assert.ok(measured.errors > 0);
  });
});
