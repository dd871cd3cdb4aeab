import assert from "node:assert/strict";
import { test } from "node:test";
import { minimumNodeMajor, unsupportedNodeMessage } from "../../src/cli/supported-node.js";

test("Node 22 and newer are supported; older ones get a message naming the version and what to install", () => {
  assert.equal(minimumNodeMajor, 22);
  for (const version of ["22.0.0", "22.23.5", "24.11.1", "26.0.0"]) assert.equal(unsupportedNodeMessage(version), undefined, version);
  assert.equal(
    unsupportedNodeMessage("20.20.2"),
    "sagemaker-byoc needs Node.js 22 or newer; this is Node.js 20.20.2. Install Node.js 22 or 24 (LTS) and run the command again: https://nodejs.org/en/download",
  );
  assert.match(unsupportedNodeMessage("18.19.0") ?? "", /this is Node\.js 18\.19\.0/);
});
