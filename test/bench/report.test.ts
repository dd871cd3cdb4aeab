import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evaluateTargets, findProblems, formatMarkdown, type ServingResults, type Target } from "../../bench/report.js";
import { cell, cpuSplit, jsonAnswer, noFailures, ping, run } from "./serving-fixtures.js";

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

describe("the serving section", () => {
  const results = (targets: Target[], cpuMeasured: boolean): ServingResults => ({
    date: "2026-12-01T10:00:00.000Z",
    mode: "quick",
    durationSeconds: 70,
    machine: { cpu: "test CPU", cores: 2, os: "linux", node: "v24.0.0", onnxruntimeNode: "1.30.0" },
    python: "Python 3.11.2",
    loadAverage: { before: 0.2, after: 1.1 },
    sizes: { seconds: 1.5, warmUpSeconds: 0.5, pings: 40 },
    floorSeconds: 1,
    contenders: [],
    models: [{ id: "iris", title: "iris" }],
    cells: [
      cell("iris", "json-1", [
        {
          contender: "toolkit",
          runs: [run(8, 11_000, 0.7)],
          ...(cpuMeasured ? { cpu: cpuSplit(110_000, { server: 56, loadGenerator: 38, byRole: { http: 27, worker: 20, onnx: 3, other: 6 } }) } : {}),
        },
      ]),
    ],
    memory: [],
    targets,
    failedRequests: 0,
    problems: [],
  });
  const missed: Target = { name: "iris, 1-row JSON, c=8: toolkit / minimal", goal: ">= 0.8x", measured: "0.54x", result: "missed", why: "the HTTP thread is busy" };
  const met: Target = { name: "MLP, 1-row JSON, c=8: toolkit / Python", goal: ">= 2x", measured: "2.95x", result: "met" };

  test("each explained miss is listed under the targets table, before the model tables, and the CPU table follows the floor's stages", () => {
    const markdown = formatMarkdown(results([met, missed], true));
    const at = (text: string) => {
      const index = markdown.indexOf(text);
      assert.ok(index >= 0, `no ${JSON.stringify(text)}`);
      return index;
    };
    assert.ok(at("### Targets") < at("- **iris, 1-row JSON, c=8: toolkit / minimal**: the HTTP thread is busy") && at("the HTTP thread is busy") < at("### iris"));
    assert.ok(!markdown.includes("- **MLP, 1-row JSON, c=8: toolkit / Python**"));
    assert.ok(at("### Where the floor's time goes") < at("### Where the CPU goes at c=8"));
    assert.match(markdown, /each thread's CPU in "Where the CPU goes" below/);
  });

  test("without a why line there is no list, and without CPU readings no CPU table", () => {
    const { why: _why, ...unexplained } = missed;
    const markdown = formatMarkdown(results([met, unexplained], false));
    assert.ok(!markdown.includes("Where the time goes in each missed target"));
    assert.ok(!markdown.includes("### Where the CPU goes"));
  });
});
