import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cpuSince, machineBusyMs, processCpuMs, snapshotCpu } from "../../bench/process-cpu.js";

/** One clock tick of `/proc/<pid>/stat`, and one more for rounding at each end. */
const tickMs = 10;

/** Keeps this thread busy until it has used `ms` of CPU time, as the process's own clock counts it. */
function burn(ms: number): void {
  const started = process.cpuUsage();
  const usedMs = (): number => {
    const used = process.cpuUsage(started);
    return (used.user + used.system) / 1000;
  };
  while (usedMs() < ms);
}

describe("CPU time from /proc", () => {
  test("a process's reading grows by the CPU time it used, as process.cpuUsage() counts it, within a clock tick or two", () => {
    const before = processCpuMs(process.pid);
    const ownBefore = process.cpuUsage();
    burn(300);
    const own = process.cpuUsage(ownBefore);
    const spent = processCpuMs(process.pid) - before;
    assert.ok(Math.abs(spent - (own.user + own.system) / 1000) <= 2 * tickMs, `read ${spent} ms, used ${(own.user + own.system) / 1000} ms`);
  });

  test("the machine's busy time grows at least by what this process used, and a snapshot reports each process by name", () => {
    const machineBefore = machineBusyMs();
    const before = snapshotCpu({ self: process.pid });
    burn(200);
    const spent = cpuSince(before);
    assert.deepEqual(Object.keys(spent.processMs), ["self"]);
    assert.ok((spent.processMs["self"] ?? 0) >= 200 - 2 * tickMs, `read ${spent.processMs["self"]} ms`);
    assert.ok(spent.machineMs >= (spent.processMs["self"] ?? 0) - 2 * tickMs, `machine ${spent.machineMs} ms, this process ${spent.processMs["self"]} ms`);
    assert.ok(machineBusyMs() - machineBefore >= spent.machineMs);
  });

  test("a process that does not exist is an error, not a zero", () => {
    assert.throws(() => processCpuMs(2 ** 30), { code: "ENOENT" });
  });
});
