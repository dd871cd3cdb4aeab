import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { coreShare, cpuPerRequest, cpuTable } from "../../bench/cpu-report.js";
import { cell, cpuSplit, run } from "./serving-fixtures.js";

const toolkitCpu = cpuSplit(110_000, { server: 56, loadGenerator: 38, byRole: { http: 27, worker: 20, onnx: 3, other: 6 }, machineBusyShare: 0.6 });
const toolkit = { contender: "toolkit", runs: [run(1, 5_000, 0.2), run(8, 11_000, 0.7)], cpu: toolkitCpu };
const python = { contender: "Python: nginx → gunicorn → Flask + numpy", runs: [run(8, 4_000, 2)], cpu: cpuSplit(40_000, { server: 400, loadGenerator: 60 }) };

describe("CPU per request", () => {
  test("each figure is the window's CPU over the requests answered in it, and busy is that CPU over the cores and the window", () => {
    const cost = cpuPerRequest(toolkit);
    assert.ok(cost !== undefined);
    assert.equal(cost.requestsPerSecond, 11_000);
    assert.deepEqual(cost.byRole, { http: 27, worker: 20, onnx: 3, other: 6 });
    assert.equal(cost.server, 56);
    assert.equal(cost.loadGenerator, 38);
    assert.equal(cost.total, 94);
    // 94 µs × 110,000 requests = 10.34 s of CPU over 2 cores × 10 s.
    assert.equal(cost.busyShare.toFixed(3), "0.517");
    assert.equal(cost.machineBusyShare, 0.6);
  });

  test("a server whose threads were not read, or whose run answered nothing, has no CPU per request", () => {
    assert.equal(cpuPerRequest({ contender: "toolkit", runs: [run(8, 11_000, 0.7)] }), undefined);
    assert.equal(cpuPerRequest({ ...toolkit, runs: [{ ...run(8, 0, 0.7), responses: 0 }] }), undefined);
  });

  test("a thread's share of one core is its CPU per request times the rate", () => {
    assert.equal(coreShare(27, 11_000), 0.297);
  });
});

describe("the CPU table", () => {
  test("one row per server whose threads were read, the Python stack as a whole", () => {
    const lines = cpuTable([cell("iris", "json-1", [toolkit, { contender: "minimal node:http", runs: [run(8, 20_000, 0.3)] }]), cell("mlp", "json-64", [python])]);
    const rows = lines.filter((line) => line.startsWith("| iris") || line.startsWith("| mlp"));
    assert.deepEqual(rows, [
      "| iris | json-1 | toolkit | 11,000 | 27.0 | 20.0 | 3.0 | 6.0 | 56.0 | 38.0 | 94.0 | 52% | 60% |",
      "| mlp | json-64 | Python: nginx → gunicorn → Flask + numpy | 4,000 | – | – | – | – | 400 | 60.0 | 460 | 92% | – |",
    ]);
    assert.match(lines[0] ?? "", /^### Where the CPU goes at c=8/);
  });

  test("no server's threads read, no table", () => {
    assert.deepEqual(cpuTable([cell("iris", "json-1", [{ contender: "toolkit", runs: [run(8, 1, 1)] }])]), []);
  });
});
