import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { describeFrame, summarizeProfile, type CpuProfile } from "../../bench/cpu-profile.js";
import { repoRoot } from "../../bench/processes.js";

const frame = (functionName: string, url = "", lineNumber = -1) => ({ functionName, url, lineNumber });

/** Samples at 1000 + 100·i µs; node 2 is `parse`, 3 is `(idle)`, 4 is `run`. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)") },
    { id: 2, callFrame: frame("parse", "node:internal/json", 9) },
    { id: 3, callFrame: frame("(idle)") },
    { id: 4, callFrame: frame("run", pathToFileURL(`${repoRoot}node_modules/onnxruntime-node/dist/backend.js`).href, 114) },
  ],
  startTime: 1_000,
  endTime: 2_000,
  samples: [2, 2, 3, 4, 4, 4, 3, 2, 2, 2],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
};

describe("CPU profile summaries", () => {
  test("only samples inside the window count, idle apart, functions by self time", () => {
    // Samples at 1100..2000 µs; the window 1250..1750 holds the 3rd to the 7th: idle, run ×3, idle.
    const summary = summarizeProfile(profile, 1_250, 1_750, 5);
    assert.equal(summary.idleMs, 0.2);
    assert.equal(summary.busyMs, 0.3);
    assert.deepEqual(summary.top, [{ name: "run (onnxruntime-node/dist/backend.js:115)", ms: 0.3, share: 1 }]);
  });

  test("the whole profile ranks the heaviest function first, with its share of the busy time", () => {
    const summary = summarizeProfile(profile, 0, Number.POSITIVE_INFINITY, 1);
    assert.deepEqual(summary.top, [{ name: "parse (node:internal/json:10)", ms: 0.5, share: 0.625 }]);
  });

  test("frames are named with repository-relative paths and 1-based lines", () => {
    assert.equal(describeFrame(frame("decode", pathToFileURL(`${repoRoot}dist/codecs/json.js`).href, 40)), "decode (dist/codecs/json.js:41)");
    assert.equal(describeFrame(frame("", "node:net", 799)), "(anonymous) (node:net:800)");
    assert.equal(describeFrame(frame("(garbage collector)")), "(garbage collector)");
  });
});
