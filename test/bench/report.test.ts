import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FloorResult } from "../../bench/floor.js";
import type { LoadRun, PingRun } from "../../bench/load.js";
import type { ServerCell } from "../../bench/measure.js";
import { evaluateTargets, findProblems, type RequestResults, type Target } from "../../bench/report.js";
import { summarize } from "../../bench/stats.js";
import type { ModelId, RequestKind } from "../../bench/workloads.js";

const noFailures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };
const jsonAnswer = (predictions: number[][]) => ({ body: Buffer.from(JSON.stringify({ predictions })).toString("base64"), contentType: "application/json" });

function run(connections: number, requestsPerSecond: number, p50: number, p99 = p50 * 2, answer = jsonAnswer([[0.25, 0.75]])): LoadRun {
  return {
    connections,
    seconds: 10,
    responses: requestsPerSecond * 10,
    requestsPerSecond,
    failures: noFailures,
    inexact: 0,
    latency: { ...summarize([p50]), p50, p99 },
    answer,
    clientCpuMs: 0,
    windowUs: { from: 0, until: 10_000_000 },
  };
}

function ping(p99: number, failed = 0): PingRun {
  return { pings: 300, failures: { ...noFailures, timeouts: failed }, latency: { ...summarize([p99]), p99 } };
}

function floor(total = 1, answer = jsonAnswer([[0.25, 0.75]])): FloorResult {
  const latency = { ...summarize([total]), p50: total };
  return { calls: 100, runs: "session.run", decode: latency, run: latency, encode: latency, total: latency, answer };
}

function cell(model: ModelId, request: RequestKind, servers: ServerCell[], floorResult = floor()): RequestResults {
  return { model, request, label: request, concurrencies: [1, 8, 64], floor: floorResult, servers };
}

const byName = (targets: readonly Target[], start: string): Target => {
  const target = targets.find((candidate) => candidate.name.startsWith(start));
  assert.ok(target, `no target named ${start}…`);
  return target;
};

describe("the serving benchmark's verdicts", () => {
  const cells = [
    cell("mlp", "json-1", [
      { contender: "minimal node:http", runs: [run(1, 5_000, 0.2), run(8, 10_000, 0.8), run(64, 10_000, 6)], ping: ping(90) },
      { contender: "toolkit", runs: [run(1, 4_000, 0.25), run(8, 9_500, 0.8), run(64, 9_000, 7, 12)], ping: ping(20) },
      { contender: "toolkit, batching off", runs: [run(64, 3_000, 20, 13)], ping: ping(49) },
      { contender: "Python: nginx → gunicorn → Flask + numpy", runs: [run(8, 4_000, 2)] },
    ]),
    cell("mlp", "json-64", [
      { contender: "toolkit", runs: [run(8, 900, 8)] },
      { contender: "Python: nginx → gunicorn → Flask + numpy", runs: [run(8, 400, 20)] },
    ]),
    cell("iris", "json-1", [
      { contender: "minimal node:http", runs: [run(1, 10_000, 0.07), run(8, 30_000, 0.2)] },
      { contender: "toolkit", runs: [run(1, 8_000, 0.2), run(8, 20_000, 0.3)] },
    ]),
  ];
  const batching = { batched: "toolkit", unbatched: "toolkit, batching off" };
  const targets = evaluateTargets(cells, batching);

  test("throughput ratios are judged against their goals", () => {
    assert.equal(byName(targets, "MLP, 1-row JSON, c=8: toolkit / Python").result, "met");
    assert.equal(byName(targets, "MLP, 1-row JSON, c=8: toolkit / minimal").result, "met");
    assert.match(byName(targets, "MLP, 1-row JSON, c=8: toolkit / minimal").measured, /^0\.95x \(9,500 vs 10,000 req\/s\)$/);
    assert.equal(byName(targets, "MLP, 64-row JSON, c=8").result, "missed");
    assert.equal(byName(targets, "iris, 1-row JSON, c=8").result, "missed");
  });

  test("the c=1 overhead is the difference of the medians", () => {
    const target = byName(targets, "iris, 1-row JSON, c=1");
    assert.equal(target.result, "missed");
    assert.match(target.measured, /^\+0\.130 ms/);
  });

  test("batching needs 3x the unbatched throughput and no worse p99", () => {
    assert.equal(byName(targets, "MLP, 1-row JSON, c=64: toolkit / toolkit, batching off").result, "met");
    const worseTail = evaluateTargets(
      [
        cell("mlp", "json-1", [
          { contender: "toolkit", runs: [run(64, 30_000, 2, 13)] },
          { contender: "toolkit, batching off", runs: [run(64, 9_000, 7, 12)] },
        ]),
      ],
      batching,
    );
    assert.equal(byName(worseTail, "MLP, 1-row JSON, c=64").result, "missed");
  });

  test("a target whose cells were not run is not measured, neither met nor missed", () => {
    const target = byName(targets, "OCR detector, PNG, c=1");
    assert.equal(target.result, "not measured");
    assert.equal(byName(evaluateTargets(cells.slice(2), batching), "MLP, 1-row JSON, c=64").result, "not measured");
  });

  test("/ping is judged on the toolkit's worst p99, whatever the other servers did", () => {
    const target = byName(targets, "every toolkit run: /ping p99");
    assert.equal(target.result, "met");
    assert.match(target.measured, /worst 49\.0 ms \(mlp json-1 toolkit, batching off\), over 2 runs/);
  });

  test("one failed request in a toolkit run misses the no-failure target and says where; another server's does not count", () => {
    const failed = { ...run(8, 1, 1), failures: { ...noFailures, non2xx: 1 } };
    const failing = evaluateTargets(
      [
        cell("iris", "json-1", [
          { contender: "minimal node:http", runs: [failed] },
          { contender: "toolkit, batching off", runs: [failed] },
        ]),
      ],
      batching,
    );
    const target = byName(failing, "every toolkit run: failed requests");
    assert.equal(target.result, "missed");
    assert.equal(target.measured, "1 in iris json-1 toolkit, batching off");
    const minimalOnly = evaluateTargets([cell("iris", "json-1", [{ contender: "minimal node:http", runs: [failed] }])], batching);
    assert.equal(byName(minimalOnly, "every toolkit run: failed requests").result, "met");
  });

  test("a failed ping misses the /ping target for the toolkit, not for the minimal server", () => {
    const toolkitPingFails = evaluateTargets([cell("iris", "json-1", [{ contender: "toolkit", runs: [run(64, 1, 1)], ping: ping(1, 1) }])], batching);
    assert.equal(byName(toolkitPingFails, "every toolkit run: /ping").result, "missed");
    assert.equal(byName(toolkitPingFails, "every toolkit run: failed requests").result, "met");
    const minimalPingFails = evaluateTargets(
      [
        cell("iris", "json-1", [
          { contender: "minimal node:http", runs: [run(64, 1, 1)], ping: ping(2_000, 5) },
          { contender: "toolkit", runs: [run(64, 1, 1)], ping: ping(1) },
        ]),
      ],
      batching,
    );
    assert.equal(byName(minimalPingFails, "every toolkit run: /ping").result, "met");
  });

  test("an answer is checked against the floor's numbers, float32 printing apart", () => {
    const python = jsonAnswer([[0.25000000372529, 0.7499999962747]]);
    const wrong = jsonAnswer([[0.3, 0.7]]);
    const problems = findProblems([
      cell("mlp", "json-1", [
        { contender: "Python", runs: [run(8, 1, 1, 2, python)] },
        { contender: "broken", runs: [run(8, 1, 1, 2, wrong)] },
      ]),
    ]);
    assert.deepEqual(problems, ["mlp json-1 broken: its answer differs from the in-process floor's beyond float rounding"]);
  });
});
