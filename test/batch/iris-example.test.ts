import assert from "node:assert/strict";
import { test } from "node:test";
import { irisRows, toCsv } from "../../examples/batch-iris/iris-rows.js";
import { runExample } from "../../examples/batch-iris/run.js";

test("the iris rows follow the data set: seeded, the three species in turn, in millimetres", () => {
  const rows = irisRows(3_000, 7);
  assert.deepEqual(rows, irisRows(3_000, 7));
  assert.notDeepEqual(rows, irisRows(3_000, 8));
  const petalLength = (species: number): number => rows.filter((_, index) => index % 3 === species).reduce((sum, row) => sum + row[2], 0) / 1_000;
  // Setosa's petals are short (1.46 cm on average in the data set), virginica's long (5.55 cm).
  assert.ok(Math.abs(petalLength(0) - 1.46) < 0.05, `setosa ${petalLength(0)}`);
  assert.ok(Math.abs(petalLength(2) - 5.55) < 0.1, `virginica ${petalLength(2)}`);
  assert.match(toCsv(rows.slice(0, 2)), /^\d+\.\d,\d+\.\d,\d+\.\d,\d+\.\d\n\d+\.\d,\d+\.\d,\d+\.\d,\d+\.\d\n$/);
});

test("the example's transform output equals, line by line, the rows sent one at a time (a smaller run than its 100,000 rows)", async () => {
  const result = await runExample({ rows: 3_000, files: 3 });
  assert.equal(result.transformExitCode, 0);
  assert.deepEqual(result.mismatches, []);
  assert.equal(result.linesCompared, 3_000);
});
