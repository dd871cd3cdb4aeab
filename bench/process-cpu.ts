/**
 * CPU time of whole processes and of the machine, read from Linux's /proc, for benchmarks that
 * split a request's cost between the processes it crosses (bench/mme.bench.ts).
 *
 * A process's figure is `utime + stime` of `/proc/<pid>/stat` (fields 14 and 15): every thread's
 * time, those that already exited included, in clock ticks. The kernel reports them in
 * `USER_HZ` units, which is 100 on every architecture Node runs on (proc(5), "sysconf(_SC_CLK_TCK)"),
 * so a reading is good to 10 ms: a window of a few seconds at a few thousand requests per second
 * puts that well under a microsecond per request.
 */
import { readFileSync } from "node:fs";
import { machineTicks, statFields } from "./thread-cpu.js";

/** `sysconf(_SC_CLK_TCK)`: the unit of `/proc/<pid>/stat`'s times and of `/proc/stat`. */
const ticksPerSecond = 100;
const msPerTick = 1000 / ticksPerSecond;

/**
 * CPU time (user + system) the process `pid` has used since it started, in milliseconds.
 * Throws when the process does not exist (or no longer does).
 *
 * @example
 * ```ts
 * const before = processCpuMs(server.pid);
 * await runLoad();
 * const spentMs = processCpuMs(server.pid) - before;
 * ```
 */
export function processCpuMs(pid: number): number {
  // utime (field 14) is the 12th after the command name and stime (15) the 13th.
  const fields = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
  return (Number(fields[11]) + Number(fields[12])) * msPerTick;
}

/**
 * CPU time every process of the machine has used since boot, in milliseconds, summed over the
 * cores: every column of `/proc/stat`'s `cpu` line but idle and iowait (and guest time, which
 * user time counts already).
 *
 * @example
 * ```ts
 * const before = machineBusyMs();
 * await runLoad();
 * const othersMs = machineBusyMs() - before - ourProcessesMs;
 * ```
 */
export function machineBusyMs(): number {
  const ticks = machineTicks();
  if (ticks === undefined) throw new Error("/proc/stat cannot be read (Linux only)");
  return ticks.busy * msPerTick;
}

/**
 * CPU time of several processes, by name, and of the whole machine, at one moment.
 *
 * @example
 * ```ts
 * const before: CpuSnapshot = snapshotCpu({ container: server.pid, gateway: process.pid });
 * ```
 */
export interface CpuSnapshot {
  readonly pids: Readonly<Record<string, number>>;
  readonly processMs: Readonly<Record<string, number>>;
  readonly machineMs: number;
}

/**
 * CPU time spent between two snapshots: by each named process, and by every process of the
 * machine together (so `machineMs` less the named processes is what the rest of the machine used).
 *
 * @example
 * ```ts
 * const spent: CpuSpent = cpuSince(before); // { processMs: { container: 1830, gateway: 940 }, machineMs: 3390 }
 * ```
 */
export interface CpuSpent {
  readonly processMs: Readonly<Record<string, number>>;
  readonly machineMs: number;
}

/**
 * Reads the CPU time of each named process and of the machine.
 *
 * @example
 * ```ts
 * const before = snapshotCpu({ container: server.pid, gateway: process.pid });
 * ```
 */
export function snapshotCpu(pids: Readonly<Record<string, number>>): CpuSnapshot {
  const processMs = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
  return { pids, processMs, machineMs: machineBusyMs() };
}

/**
 * The CPU time spent since `before` was taken, by the same processes and by the machine.
 *
 * @example
 * ```ts
 * const before = snapshotCpu({ container: server.pid });
 * await runLoad();
 * const { processMs, machineMs } = cpuSince(before);
 * ```
 */
export function cpuSince(before: CpuSnapshot): CpuSpent {
  const now = snapshotCpu(before.pids);
  const processMs = Object.fromEntries(Object.keys(before.pids).map((name) => [name, (now.processMs[name] ?? 0) - (before.processMs[name] ?? 0)]));
  return { processMs, machineMs: now.machineMs - before.machineMs };
}
