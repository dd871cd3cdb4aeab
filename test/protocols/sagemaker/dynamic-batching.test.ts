import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { scrape, seriesOf } from "../../helpers/prometheus.js";
import { spawnServe, type ServeChild } from "../../helpers/serve-child.js";

const servers: ServeChild[] = [];
const scratch = await mkdtemp(join(tmpdir(), "byoc-batching-"));
after(async () => {
  for (const server of servers) server.child.kill("SIGKILL");
  await rm(scratch, { recursive: true, force: true });
});

const rows = Array.from({ length: 24 }, (_, index) => [4.3 + (index % 8) * 0.45, 2 + (index % 5) * 0.5, 1 + (index % 6) * 1.1, 0.1 + (index % 4) * 0.6]);

async function predict(server: ServeChild, row: number[]): Promise<string> {
  const response = await fetch(`${server.url}/invocations`, { method: "POST", body: JSON.stringify({ instances: [row] }), headers: { "content-type": "application/json" } });
  assert.equal(response.status, 200);
  return response.text();
}

test("concurrent single-row requests are merged into batched runs (logged at debug), and each answer is byte for byte the one it gets alone", async () => {
  // The iris model runs in microseconds, so requests rarely find it busy; a delay lets them meet.
  // Without the inline lane, which would run a request that happens to arrive alone on the HTTP thread.
  const server = await spawnServe(["--workers", "1", "--log-level", "debug"], { BYOC_BATCH_MAX_DELAY_MS: "200", BYOC_INLINE_TINY_MODELS: "false" });
  servers.push(server);
  const alone: string[] = [];
  for (const row of rows) alone.push(await predict(server, row));
  const together = await Promise.all(rows.map((row) => predict(server, row)));
  assert.deepEqual(together, alone);
  // Log lines are written in batches: wait for the first merged run's line.
  await server.waitForLog((line) => line["msg"] === "batched run");
  const batched = server.lines.filter((line) => line["msg"] === "batched run");
  assert.ok(batched.every((line) => (line["requests"] as number) > 1 && (line["rows"] as number) <= 32));
  assert.ok(server.lines.some((line) => line["msg"] === "dynamic batching on" && line["axis"] === "batch"));
});

test("/metrics counts every run of a batched model once: its rows (24 in all) and requests, over fewer runs than requests", async () => {
  const server = await spawnServe(["--workers", "1", "--log-level", "debug"], { BYOC_BATCH_MAX_DELAY_MS: "200", BYOC_INLINE_TINY_MODELS: "false" });
  servers.push(server);
  await Promise.all(rows.map((row) => predict(server, row)));
  const scraped = await scrape(`${server.url}/metrics`);
  const rowsPerRun = seriesOf(scraped, "byoc_batch_size_rows", { model: "model" });
  const requestsPerRun = seriesOf(scraped, "byoc_batch_size_requests", { model: "model" });
  // Workers write their log lines in batches; stopping the server flushes every one of them.
  server.child.kill("SIGTERM");
  await server.exit;
  // Merged runs are logged at debug; the requests that ran alone are the runs of one request.
  const merged = server.lines.filter((line) => line["msg"] === "batched run");
  const aloneRuns = requestsPerRun.buckets?.get("1") ?? assert.fail("no le=1 bucket");
  const runs = merged.length + aloneRuns;
  assert.equal(rowsPerRun.sum, 24);
  assert.equal(rowsPerRun.count, runs);
  assert.ok(runs < 24, `${runs} runs for 24 requests`);
  assert.equal(requestsPerRun.sum, 24);
  assert.equal(requestsPerRun.count, runs);
  assert.equal(merged.reduce((sum, line) => sum + (line["rows"] as number), 0) + aloneRuns, 24);
  assert.equal(rowsPerRun.buckets?.get("32"), runs, "no run has more rows than BYOC_BATCH_MAX_SIZE");
  assert.equal(scraped.get("byoc_batch_size_rows")?.type, "histogram");
  assert.deepEqual([...(rowsPerRun.buckets?.keys() ?? [])], [...Array.from({ length: 13 }, (_, power) => String(2 ** power)), "+Inf"]);
});

test("BYOC_BATCH_MAX_SIZE=1 and a model's `batching = false` export both serve one request per run, with no batch-size series", async () => {
  const off = await spawnServe(["--workers", "1", "--log-level", "debug"], { BYOC_BATCH_MAX_SIZE: "1" });
  servers.push(off);
  const handlers = join(scratch, "no-batching.mjs");
  await writeFile(handlers, "export const batching = false;\n");
  const exported = await spawnServe(["--workers", "1", "--log-level", "debug", "--handlers", handlers]);
  servers.push(exported);
  for (const server of [off, exported]) {
    await Promise.all(rows.map((row) => predict(server, row)));
    const scraped = await scrape(`${server.url}/metrics`);
    assert.equal(seriesOf(scraped, "byoc_inference_stage_duration_seconds", { model: "model", stage: "predict" }).count, rows.length);
    for (const name of ["byoc_batch_size_rows", "byoc_batch_size_requests"]) assert.deepEqual(scraped.get(name)?.series ?? [], [], name);
    // Workers write their log lines in batches; stopping the server flushes every one of them.
    server.child.kill("SIGTERM");
    await server.exit;
    assert.equal(server.lines.filter((line) => line["msg"] === "batched run").length, 0);
    assert.ok(!server.lines.some((line) => line["msg"] === "dynamic batching on"));
  }
});

test("a handlers file whose batching export is malformed fails the load naming it", async () => {
  const handlers = join(scratch, "bad-batching.mjs");
  await writeFile(handlers, "export const batching = { maxBatchSize: 0 };\n");
  const server = await spawnServe(["--workers", "1", "--handlers", handlers], {}, { waitForReady: false });
  servers.push(server);
  const failed = await server.waitForLog((line) => line["msg"] === "model load failed; /ping answers 503");
  assert.match(JSON.stringify(failed["err"]), /batching must be false or \{ maxBatchSize/);
});
