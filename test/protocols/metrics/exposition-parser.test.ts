/**
 * The tests' Prometheus text parser (test/helpers/prometheus.ts) against prom-client's own
 * output: it must read back exactly what prom-client's metrics hold, labels with escapes included,
 * before it is trusted to read /metrics.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { parseExposition, seriesOf } from "../../helpers/prometheus.js";

test("the parser reads prom-client's counters, gauges and labelled histograms back as prom-client holds them", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "jobs_total", help: 'Jobs "done"\\ with a\nnewline', labelNames: ["queue", "result"], registers: [registry] });
  const gauge = new Gauge({ name: "temperature_celsius", help: "Heat", registers: [registry] });
  const histogram = new Histogram({ name: "wait_seconds", help: "Waits", labelNames: ["queue"], buckets: [0.1, 1], registers: [registry] });
  counter.inc({ queue: 'a "quoted"\\ name\nwith a newline', result: "ok" }, 3);
  counter.inc({ queue: "b", result: "ok" });
  gauge.set(-12.5);
  for (const value of [0.05, 0.5, 5]) histogram.observe({ queue: "a" }, value);
  histogram.observe({ queue: "b" }, 2);

  const scraped = parseExposition(await registry.metrics());
  assert.deepEqual(
    { type: scraped.get("jobs_total")?.type, help: scraped.get("jobs_total")?.help },
    { type: "counter", help: 'Jobs "done"\\ with a\nnewline' },
  );
  assert.equal(seriesOf(scraped, "jobs_total", { queue: 'a "quoted"\\ name\nwith a newline' }).value, 3);
  assert.equal(seriesOf(scraped, "jobs_total", { queue: "b" }).value, 1);
  assert.equal(seriesOf(scraped, "temperature_celsius").value, -12.5);
  const waits = seriesOf(scraped, "wait_seconds", { queue: "a" });
  assert.deepEqual([...(waits.buckets ?? [])], [["0.1", 1], ["1", 2], ["+Inf", 3]]);
  assert.equal(waits.count, 3);
  assert.equal(waits.sum, 5.55);
  assert.deepEqual([...(seriesOf(scraped, "wait_seconds", { queue: "b" }).buckets ?? [])], [["0.1", 0], ["1", 0], ["+Inf", 1]]);
  assert.equal(scraped.get("wait_seconds")?.series.length, 2, "one series per label set, bucket lines joined");
});

test("a line that is not a sample is refused, not skipped", () => {
  assert.throws(() => parseExposition("metric{label=unquoted} 1\n"), /malformed label/);
  assert.throws(() => parseExposition("metric one\n"), /not a sample value/);
});
