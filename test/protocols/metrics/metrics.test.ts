/**
 * `/metrics` over real HTTP, read with a Prometheus text-format parser (test/helpers/prometheus.ts,
 * itself checked against prom-client's output in exposition-parser.test.ts):
 * requests by route and status, latency histograms by route and by stage, in-flight requests,
 * model loads and memory, process metrics, and where the endpoint listens.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { request } from "node:http";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { HistogramFamily, latencyBuckets } from "../../../src/protocols/metrics/histogram.js";
import { startServer, type RunningServer } from "../../../src/server.js";
import { listenToFixtures } from "../../helpers/fixture-events.js";
import { freePort } from "../../helpers/free-port.js";
import { parseExposition, scrape, seriesOf, valueOf, type Scrape } from "../../helpers/prometheus.js";
import { irisModelDir, setosaRow, startTestServer } from "../../helpers/server.js";

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/handlers/${name}`, import.meta.url));
const json = { "content-type": "application/json" };

async function withServer(run: (server: RunningServer) => Promise<void>, overrides: Parameters<typeof startTestServer>[0] = {}, env: Record<string, string> = {}): Promise<void> {
  const server = await startTestServer(overrides, env);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

const requests = (scraped: Scrape, route: string, status: string): number => valueOf(scraped, "byoc_http_requests_total", { route, status });

test("/metrics shows the request that was just made: its route and status, its latency, and its model's stages", async () => {
  await withServer(async (server) => {
    const before = await scrape(`${server.url}/metrics`);
    const response = await fetch(`${server.url}/invocations`, { method: "POST", headers: json, body: JSON.stringify({ instances: [setosaRow] }) });
    assert.equal(response.status, 200);
    const after = await scrape(`${server.url}/metrics`);

    assert.equal(after.get("byoc_http_requests_total")?.type, "counter");
    assert.equal(requests(after, "/invocations", "200") - requests(before, "/invocations", "200"), 1);
    const duration = seriesOf(after, "byoc_http_request_duration_seconds", { route: "/invocations" });
    assert.equal(duration.count, 1);
    assert.ok((duration.sum ?? 0) > 0);
    assert.equal(duration.buckets?.get("+Inf"), 1);
    const buckets = [...(duration.buckets?.values() ?? [])];
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), "buckets are cumulative");
    assert.equal(buckets.length, latencyBuckets.length + 1);
    for (const stage of ["queue", "decode", "predict", "encode"]) {
      const series = seriesOf(after, "byoc_inference_stage_duration_seconds", { model: "model", stage });
      assert.equal(series.count, 1, `${stage} observed once`);
    }
    assert.equal(after.get("byoc_inference_stage_duration_seconds")?.type, "histogram");
  });
});

test("an error counts under its status, and a path no route has counts as unmatched, never under the path itself", async () => {
  await withServer(async (server) => {
    assert.equal((await fetch(`${server.url}/invocations`, { method: "POST", headers: json, body: "{" })).status, 400);
    assert.equal((await fetch(`${server.url}/no/such/path-1234`)).status, 404);
    const scraped = await scrape(`${server.url}/metrics`);
    assert.equal(requests(scraped, "/invocations", "400"), 1);
    assert.equal(requests(scraped, "unmatched", "404"), 1);
    const routes = scraped.get("byoc_http_requests_total")?.series.map((series) => series.labels["route"]) ?? [];
    assert.ok(!routes.some((route) => route?.includes("path-1234")), `no series for a raw path: ${routes.join(", ")}`);
  });
});

test("KServe V2 and Vertex AI requests count under their route templates, and their stages under the model", async () => {
  await withServer(
    async (server) => {
      const v2 = await fetch(`${server.url}/v2/models/iris/infer`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: setosaRow }] }),
      });
      assert.equal(v2.status, 200);
      assert.equal((await fetch(`${server.url}/predict`, { method: "POST", headers: json, body: JSON.stringify({ instances: [setosaRow] }) })).status, 200);
      assert.equal((await fetch(`${server.url}/ping`)).status, 200);
      const scraped = await scrape(`${server.url}/metrics`);
      assert.equal(requests(scraped, "/v2/models/:model{/versions/:version}/infer", "200"), 1);
      assert.equal(requests(scraped, "/predict", "200"), 1);
      assert.equal(requests(scraped, "/ping", "200"), 1);
      assert.equal(seriesOf(scraped, "byoc_inference_stage_duration_seconds", { model: "iris", stage: "predict" }).count, 2);
    },
    { modelName: "iris" },
    { AIP_PREDICT_ROUTE: "/predict" },
  );
});

test("the model's load, readiness, load time and memory, and the process's memory, are exposed", async () => {
  await withServer(async (server) => {
    const scraped = await scrape(`${server.url}/metrics`);
    assert.equal(valueOf(scraped, "byoc_model_loads_total", { model: "model", result: "success" }), 1);
    assert.equal(valueOf(scraped, "byoc_model_ready", { model: "model" }), 1);
    assert.ok(valueOf(scraped, "byoc_model_load_duration_seconds", { model: "model" }) > 0);
    assert.ok(valueOf(scraped, "byoc_model_memory_bytes", { model: "model" }) >= 0);
    assert.equal(scraped.get("byoc_model_memory_bytes")?.type, "gauge");
    assert.ok(valueOf(scraped, "process_resident_memory_bytes") > 0);
    assert.ok(valueOf(scraped, "nodejs_heap_size_used_bytes") > 0);
  });
});

test("a failed load counts as a failure and leaves the model not ready", async () => {
  const server = await startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent", handlersPath: fixture("load-fails.ts") }, {});
  try {
    await server.loaded;
    const scraped = await scrape(`${server.url}/metrics`);
    assert.equal(valueOf(scraped, "byoc_model_loads_total", { model: "model", result: "failure" }), 1);
    assert.equal(valueOf(scraped, "byoc_model_ready", { model: "model" }), 0);
  } finally {
    await server.close();
  }
});

test("in-flight requests are counted while they run; a client that leaves before the answer counts as 499", async () => {
  const fixtures = listenToFixtures();
  try {
    await withServer(
      async (server) => {
        const held = fetch(`${server.url}/invocations`, { method: "POST", headers: { "x-amzn-sagemaker-custom-attributes": "hold", "x-amzn-sagemaker-inference-id": "metrics-held" }, body: "x" });
        await fixtures.next("the request to be held", (event) => event.event === "holding" && event.inferenceId === "metrics-held");
        assert.equal(valueOf(await scrape(`${server.url}/metrics`), "byoc_http_requests_in_flight"), 1);
        fixtures.release("metrics-held");
        assert.equal((await held).status, 200);
        assert.equal(valueOf(await scrape(`${server.url}/metrics`), "byoc_http_requests_in_flight"), 0);

        const left = request(`${server.url}/invocations`, { method: "POST", headers: { "x-amzn-sagemaker-custom-attributes": "hold", "x-amzn-sagemaker-inference-id": "metrics-left" } });
        left.on("error", () => undefined);
        left.end("x");
        await fixtures.next("the second request to be held", (event) => event.event === "holding" && event.inferenceId === "metrics-left");
        left.destroy();
        let counted = 0;
        for (let attempt = 0; attempt < 100 && counted === 0; attempt++) {
          counted = requests(await scrape(`${server.url}/metrics`), "/invocations", "499");
          if (counted === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        fixtures.release("metrics-left");
        assert.equal(counted, 1);
      },
      { handlersPath: fixture("behaviours.ts") },
    );
  } finally {
    fixtures.close();
  }
});

test("with SAGEMAKER_SAFE_PORT_RANGE, /metrics moves to the first free port of the range and leaves the serving port", async () => {
  const first = await freePort();
  const taken = createServer().listen(first, "127.0.0.1");
  await once(taken, "listening");
  try {
    await withServer(
      async (server) => {
        assert.equal((await fetch(`${server.url}/metrics`)).status, 404, "not on the serving port");
        let found: number | undefined;
        for (let port = first + 1; port <= first + 20 && found === undefined; port++) {
          const answer = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (response) => response,
            () => undefined,
          );
          if (answer?.status === 200 && (answer.headers.get("content-type") ?? "").startsWith("text/plain; version=0.0.4")) found = port;
        }
        assert.ok(found !== undefined, "served on a port of the range after the taken one");
        const scraped = parseExposition(await (await fetch(`http://127.0.0.1:${found}/metrics`)).text());
        assert.equal(valueOf(scraped, "byoc_model_ready", { model: "model" }), 1);
        assert.equal((await fetch(`http://127.0.0.1:${found}/other`)).status, 404);
      },
      {},
      { SAGEMAKER_SAFE_PORT_RANGE: `${first}-${first + 20}` },
    );
  } finally {
    taken.close();
  }
});

test("BYOC_METRICS=false turns /metrics off", async () => {
  await withServer(async (server) => assert.equal((await fetch(`${server.url}/metrics`)).status, 404), {}, { BYOC_METRICS: "false" });
});

test("the request path's histogram exposes exactly what prom-client's own Histogram does for the same observations", async () => {
  const observations = [0.00005, 0.0003, 0.0003, 0.02, 0.7, 42, 120];
  const ours = new Registry();
  const family = new HistogramFamily("latency_seconds", "help", latencyBuckets);
  ours.registerMetric(family.asMetric());
  const theirs = new Registry();
  const reference = new Histogram({ name: "latency_seconds", help: "help", labelNames: ["route"], buckets: [...latencyBuckets], registers: [theirs] });
  for (const value of observations) {
    family.series({ route: "/x" }).observe(value);
    reference.observe({ route: "/x" }, value);
  }
  assert.deepEqual(seriesOf(parseExposition(await ours.metrics()), "latency_seconds"), seriesOf(parseExposition(await theirs.metrics()), "latency_seconds"));
  ours.resetMetrics();
  assert.equal(seriesOf(parseExposition(await ours.metrics()), "latency_seconds").count, 0);
});

test("a SAGEMAKER_SAFE_PORT_RANGE with no free port stops start-up with the range named", async () => {
  const port = await freePort();
  const taken = createServer().listen(port, "127.0.0.1");
  await once(taken, "listening");
  try {
    await assert.rejects(
      startServer({ port: 0, host: "127.0.0.1", modelDir: irisModelDir, workers: 1, logLevel: "silent" }, { SAGEMAKER_SAFE_PORT_RANGE: `${port}-${port}` }),
      new RegExp(`No free port for /metrics in SAGEMAKER_SAFE_PORT_RANGE ${port}-${port}`),
    );
  } finally {
    taken.close();
  }
});
