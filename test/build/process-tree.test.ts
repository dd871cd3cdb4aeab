import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { descendantProcesses } from "../../src/build/process-tree.js";

test("every process below a process, parents before children, with their command lines", async () => {
  // sh starts a subshell that starts sleep: three generations, ended below.
  const shell = spawn("sh", ["-c", "(sleep 30; true) & wait"], { stdio: "ignore" });
  try {
    let tree: Awaited<ReturnType<typeof descendantProcesses>> = [];
    for (let attempt = 0; attempt < 100 && !tree.some((entry) => entry.argv[0] === "sleep"); attempt++) {
      tree = await descendantProcesses(shell.pid ?? -1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sleep = tree.find((entry) => entry.argv[0] === "sleep");
    assert.ok(sleep !== undefined, JSON.stringify(tree));
    assert.deepEqual(sleep.argv, ["sleep", "30"]);
    const parent = tree.find((entry) => entry.pid === sleep.parent);
    assert.ok(parent !== undefined && tree.indexOf(parent) < tree.indexOf(sleep), "the subshell, listed first");
    assert.equal(parent.parent, shell.pid);
    // Children first; a subshell whose sleep was killed may have exited on its own already.
    for (const entry of tree.reverse()) killIfAlive(entry.pid);
  } finally {
    shell.kill("SIGKILL");
  }
  assert.deepEqual(await descendantProcesses(2 ** 22 + 1), [], "no such process: nothing below it");
});

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
