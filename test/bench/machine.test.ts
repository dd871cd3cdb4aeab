import assert from "node:assert/strict";
import { test } from "node:test";
import { describeLoadAverage } from "../../bench/machine.js";

test("the load average calls a run noisy only when it starts above half the cores, whatever it ends at", () => {
  assert.equal(describeLoadAverage(0.1, 2.5, 2), "1-minute load average 0.1 at the start, 2.5 at the end (the run's own processes count in it)");
  assert.equal(
    describeLoadAverage(1.2, 0.4, 2),
    "1-minute load average 1.2 at the start, 0.4 at the end (the run's own processes count in it): **other work was using the CPU, so these figures are noisy**",
  );
});
