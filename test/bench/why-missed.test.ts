import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cpuPerRequest } from "../../bench/cpu-report.js";
import type { ServerCell } from "../../bench/measure.js";
import { evaluateTargets, type Target } from "../../bench/report.js";
import { describeBound, explainMisses } from "../../bench/why-missed.js";
import { cell, cpuSplit, floor, run } from "./serving-fixtures.js";

const batching = { batched: "toolkit", unbatched: "toolkit, batching off" };
const pythonName = "Python: nginx → gunicorn → Flask + numpy";
const byName = (targets: readonly Target[], start: string): Target => {
  const target = targets.find((candidate) => candidate.name.startsWith(start));
  assert.ok(target, `no target named ${start}…`);
  return target;
};

const irisToolkit: ServerCell = {
  contender: "toolkit",
  runs: [run(8, 11_000, 0.7)],
  cpu: cpuSplit(110_000, { server: 56, loadGenerator: 38, byRole: { http: 27, worker: 20, onnx: 3, other: 6 }, machineBusyShare: 0.6 }),
};
const irisMinimal: ServerCell = {
  contender: "minimal node:http",
  runs: [run(8, 20_000, 0.3)],
  cpu: cpuSplit(200_000, { server: 30, loadGenerator: 35, byRole: { http: 22, worker: 0, onnx: 0, other: 8 }, machineBusyShare: 0.7 }),
};
const mlpCells = [
  cell(
    "mlp",
    "json-1",
    [
      { contender: "minimal node:http", runs: [run(8, 9_000, 0.8), run(64, 9_000, 6)] },
      { contender: "toolkit", runs: [run(8, 8_000, 0.8), run(64, 12_000, 4, 15)], cpu: cpuSplit(80_000, { server: 90, loadGenerator: 40, byRole: { http: 50, worker: 25, onnx: 5, other: 10 } }) },
      { contender: "toolkit, batching off", runs: [run(8, 6_000, 1), run(64, 10_000, 5, 16)] },
      { contender: pythonName, runs: [run(8, 3_000, 2.7)] },
    ],
    floor(0.05),
  ),
  cell(
    "mlp",
    "json-64",
    [
      { contender: "minimal node:http", runs: [run(8, 1_400, 5)] },
      { contender: "toolkit", runs: [run(8, 1_300, 6)], cpu: cpuSplit(13_000, { server: 1_300, loadGenerator: 150 }) },
      { contender: pythonName, runs: [run(8, 650, 12)] },
    ],
    floor(0.66, undefined, { decode: 0.23, run: 0.3, encode: 0.13 }),
  ),
  cell("iris", "json-1", [irisMinimal, irisToolkit]),
];
const targets = explainMisses(evaluateTargets(mlpCells, batching), mlpCells, batching);

describe("why a target was missed", () => {
  test("a met target has no why line", () => {
    const met = byName(targets, "MLP, 1-row JSON, c=8: toolkit / Python");
    assert.equal(met.result, "met");
    assert.equal(met.why, undefined);
  });

  test("against Python: the goal in req/s, the minimal server's own ratio, the floor's codec share and the CPU the goal leaves", () => {
    const target = byName(targets, "MLP, 64-row JSON, c=8");
    assert.equal(target.result, "missed");
    assert.equal(
      target.why,
      "3x Python's 650 req/s is 1,950 req/s. The minimal node:http server, with no toolkit in the way, did 1,400 req/s, 2.15x Python, below 3x itself. " +
        "In process, without HTTP, a request takes 0.660 ms (p50): 0.230 ms decoding the body and 0.130 ms encoding the answer around 0.300 ms of session.run, " +
        "so the codec is 55% of it. At c=8 the toolkit and the load generator spent 1,450 µs of CPU per request (1,300 in the server); 3x Python on 2 cores leaves 1,026 µs.",
    );
  });

  test("against the minimal server: CPU per request by thread for both, what 2 cores allow at that cost, and whether the cores sat idle", () => {
    const target = byName(targets, "iris, 1-row JSON, c=8");
    assert.equal(
      target.why,
      "CPU per request at c=8: the toolkit 27.0 µs on its HTTP thread, 20.0 in its workers, 3.0 in ONNX Runtime's threads and 6.0 in other threads, 56.0 µs in all; " +
        "the minimal server 22.0 µs on its one thread, 30.0 µs in all. With the load generator (38.0 and 35.0 µs), the machine spent 94.0 vs 65.0 µs per request: " +
        "2 cores at that cost allow 21,277 vs 30,769 req/s; the run measured 11,000 vs 20,000. " +
        "The toolkit kept 52% of the cores busy with the load generator (60% with every process) and its HTTP thread 30% of the window: latency-bound, with idle CPU. " +
        "The minimal server kept 65% of the cores busy with the load generator (70% with every process) and its HTTP thread 44% of the window: latency-bound, with idle CPU.",
    );
  });

  test("against the minimal server, threads not told apart by role (a Node that leaves them unnamed): each server's CPU in all", () => {
    const unnamed = (server: ServerCell): ServerCell => {
      const { byRole: _byRole, ...cpu } = server.cpu as NonNullable<ServerCell["cpu"]>;
      return { ...server, cpu };
    };
    const cells = [cell("iris", "json-1", [unnamed(irisMinimal), unnamed(irisToolkit)])];
    const target = byName(explainMisses(evaluateTargets(cells, batching), cells, batching), "iris, 1-row JSON, c=8");
    assert.match(target.why ?? "", /^CPU per request at c=8: the toolkit 56\.0 µs; the minimal server 30\.0 µs in all\. /);
  });

  test("batching: the goal in req/s beside the minimal server and the floor, and what it would cost the HTTP thread and the load generator", () => {
    const target = byName(targets, "MLP, 1-row JSON, c=64");
    assert.equal(target.result, "missed");
    assert.equal(
      target.why,
      "3x the unbatched 10,000 req/s is 30,000 req/s. In this run the minimal node:http server did 9,000 req/s at c=64, and in process, without HTTP, " +
        "one request takes 0.050 ms (p50), 20,000 req/s on one thread. At c=8 the batched toolkit's HTTP thread spent 50.0 µs per request and the load generator 40.0: " +
        "at 30,000 req/s that is 1.50 of a core for the HTTP thread alone and 1.20 for the load generator, of 2.",
    );
  });

  test("batching fast enough but with a worse p99 says so and nothing else", () => {
    const cells = [
      cell("mlp", "json-1", [
        { contender: "toolkit", runs: [run(64, 30_000, 2, 13)] },
        { contender: "toolkit, batching off", runs: [run(64, 9_000, 7, 12)] },
      ]),
    ];
    const target = byName(explainMisses(evaluateTargets(cells, batching), cells, batching), "MLP, 1-row JSON, c=64");
    assert.equal(target.why, "The speed-up is there; the batched p99, 13.0 ms, is above the unbatched 12.0 ms.");
  });

  test("a missed target the run has no figures to explain keeps no why line", () => {
    const cells = [cell("iris", "json-1", [{ contender: irisMinimal.contender, runs: irisMinimal.runs }, irisToolkit])];
    const target = byName(explainMisses(evaluateTargets(cells, batching), cells, batching), "iris, 1-row JSON, c=8");
    assert.equal(target.result, "missed");
    assert.equal(target.why, undefined);
  });
});

describe("what bound a server", () => {
  const cost = (machineBusyShare: number | undefined, http: number, requestsPerSecond = 10_000) => {
    const server: ServerCell = {
      contender: "toolkit",
      runs: [run(8, requestsPerSecond, 1)],
      cpu: cpuSplit(requestsPerSecond * 10, { server: 60, loadGenerator: 20, byRole: { http, worker: 0, onnx: 0, other: 60 - http }, ...(machineBusyShare === undefined ? {} : { machineBusyShare }) }),
    };
    const result = cpuPerRequest(server);
    assert.ok(result !== undefined);
    return result;
  };

  test("cores at least 90% busy by the machine's count, nearly all of it the server's and the load generator's, are CPU-bound", () => {
    assert.match(describeBound(cost(0.88, 20, 23_000)), /^kept 92% of the cores busy with the load generator \(88% with every process\) .*: CPU-bound, the cores saturated$/);
    assert.match(describeBound(cost(0.95, 20, 23_000)), /\(95% with every process\) .*: CPU-bound, the cores saturated$/);
  });

  test("saturated cores, 10% or more of them by work outside the server's and the load generator's threads, say how much and no verdict", () => {
    assert.match(
      describeBound(cost(0.95, 20, 20_000)),
      /^kept 80% of the cores busy .*\(95% with every process\) .*: the cores were saturated, 15% of them by work outside its and the load generator's threads \(other processes, the kernel's\)$/,
    );
  });

  test("without the machine's count, the server's and the load generator's own share decides", () => {
    assert.match(describeBound(cost(undefined, 20, 23_000)), /^kept 92% of the cores busy with the load generator and its HTTP thread 46% of the window: CPU-bound, the cores saturated$/);
  });

  test("an HTTP thread busy 90% of the window on idle cores is the bound", () => {
    assert.match(describeBound(cost(0.6, 95)), /its HTTP thread 95% of the window: bound by that one thread$/);
  });

  test("idle cores and an HTTP thread with time to spare are latency-bound", () => {
    assert.match(describeBound(cost(0.6, 20)), /: latency-bound, with idle CPU$/);
  });
});
