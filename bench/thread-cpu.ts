/**
 * CPU time by thread, read from /proc (Linux): how much each thread of a server and of the load
 * generator spent over a measured window, and which job each thread does. The serving benchmark
 * and `npm run bench:profile` both split a server's CPU per request with it.
 */
import { readdirSync, readFileSync } from "node:fs";

/**
 * One thread and the CPU it has used since it started.
 *
 * @example
 * ```ts
 * const thread: ThreadTime = { pid: 4100, tid: 4113, name: "WorkerThread", ns: 1_200_000, started: 2906416 };
 * ```
 */
export interface ThreadTime {
  /** The process the thread belongs to. */
  readonly pid: number;
  readonly tid: number;
  /** Its name (`comm`), at most 15 characters. */
  readonly name: string;
  /** Nanoseconds on a CPU since the thread started (`schedstat`). */
  readonly ns: number;
  /** When the thread started, in clock ticks since boot. */
  readonly started: number;
}

/**
 * One thread and the CPU it used within a window.
 *
 * @example
 * ```ts
 * const spent: ThreadCpu = { pid: 4100, tid: 4100, name: "MainThread", started: 2906367, cpuMs: 412.5 };
 * ```
 */
export interface ThreadCpu {
  readonly pid: number;
  readonly tid: number;
  readonly name: string;
  readonly started: number;
  readonly cpuMs: number;
}

/**
 * What a thread does in a Node.js server.
 *
 * - `http`: the main thread, which owns the sockets (the minimal server's only JavaScript thread);
 * - `worker`: a JavaScript worker thread (the toolkit's pool);
 * - `onnx`: an ONNX Runtime intra-op thread;
 * - `other`: libuv's thread pool, V8's platform threads (GC, compilation) and the rest.
 */
export type ThreadRole = "http" | "worker" | "onnx" | "other";

/**
 * The threads of a server process and of the load generator over one measured window.
 *
 * @example
 * ```ts
 * const window: WindowCpu = { server: [...], loadGenerator: [...], machineBusyShare: 0.97 };
 * ```
 */
export interface WindowCpu {
  /** Every thread of the server's processes, with the CPU it used in the window. */
  readonly server: readonly ThreadCpu[];
  /** The load generator's own threads. */
  readonly loadGenerator: readonly ThreadCpu[];
  /**
   * The share of all cores that was busy over the window, every process on the machine counted
   * (/proc/stat): beside the server's and the load generator's own share, it shows other work.
   */
  readonly machineBusyShare?: number;
}

/**
 * A reading of thread and machine CPU counters at one moment.
 *
 * @example
 * ```ts
 * const before = readCpu([server.pid]);
 * ```
 */
export interface CpuReading {
  readonly server: readonly ThreadTime[];
  readonly loadGenerator: readonly ThreadTime[];
  readonly machine?: MachineTicks;
}

/**
 * The machine's CPU counters from /proc/stat, in clock ticks summed over the cores.
 *
 * @example
 * ```ts
 * const ticks: MachineTicks = { busy: 912_000, total: 4_100_000 };
 * ```
 */
export interface MachineTicks {
  readonly busy: number;
  readonly total: number;
}

/**
 * A Node server's CPU in a window, by thread role and in all.
 *
 * @example
 * ```ts
 * const split: CpuSplit = { connections: 8, cores: 2, serverMs: 9_800, loadGeneratorMs: 4_200, byRole, machineBusyShare: 0.71 };
 * ```
 */
export interface CpuSplit {
  /** The concurrency of the run the window belongs to. */
  readonly connections: number;
  /** Cores of the machine. */
  readonly cores: number;
  /** Every thread of every process of the server. */
  readonly serverMs: number;
  readonly loadGeneratorMs: number;
  /** The server's threads by role; absent for a server of several processes (the Python stack), counted as a whole. */
  readonly byRole?: Readonly<Record<ThreadRole, number>>;
  readonly machineBusyShare?: number;
}

/**
 * Every thread of process `pid` with its name and CPU time so far; empty when the process is
 * gone or /proc is not there. A thread that exits while being read is left out.
 *
 * @example
 * ```ts
 * threadTimes(process.pid).find((thread) => thread.tid === process.pid)?.name; // "MainThread"
 * ```
 */
export function threadTimes(pid: number): ThreadTime[] {
  let entries: string[];
  try {
    entries = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    try {
      const name = readFileSync(`/proc/${pid}/task/${entry}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${entry}/schedstat`, "utf8").split(" ")[0]);
      const started = Number(statFields(readFileSync(`/proc/${pid}/task/${entry}/stat`, "utf8"))[19]);
      return [{ pid, tid: Number(entry), name, ns, started }];
    } catch {
      return [];
    }
  });
}

/**
 * `roots` and every process descended from them (Linux): a server of several processes, such as
 * nginx in front of gunicorn's master and its workers.
 *
 * @example
 * ```ts
 * processTree([gunicornMaster, nginxMaster]); // [gunicornMaster, nginxMaster, worker1, worker2, nginxWorker]
 * ```
 */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [...roots];
  }
  for (const entry of entries) {
    try {
      const parent = Number(statFields(readFileSync(`/proc/${entry}/stat`, "utf8"))[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process exited between the listing and the read.
    }
  }
  const found: number[] = [];
  const queue = [...roots];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    if (found.includes(pid)) continue;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * The machine's busy and total CPU ticks so far, over every core, from /proc/stat; undefined
 * where it cannot be read. Idle and I/O wait count as not busy.
 *
 * @example
 * ```ts
 * const ticks = machineTicks();
 * ```
 */
export function machineTicks(): MachineTicks | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: total - idle - iowait, total };
  } catch {
    return undefined;
  }
}

/**
 * Reads the counters of every thread of `serverPids`, of this process (the load generator) and
 * of the machine.
 *
 * @example
 * ```ts
 * const before = readCpu(processTree([server.pid]));
 * ```
 */
export function readCpu(serverPids: readonly number[]): CpuReading {
  const machine = machineTicks();
  return {
    server: serverPids.flatMap(threadTimes),
    loadGenerator: threadTimes(process.pid),
    ...(machine === undefined ? {} : { machine }),
  };
}

/**
 * The CPU each thread used between two readings. A thread started in between counts from zero;
 * one that exited in between is not in `after` and is lost (none of a server's threads should).
 *
 * @example
 * ```ts
 * const window = cpuBetween(readCpu(pids), readCpu(pids));
 * ```
 */
export function cpuBetween(before: CpuReading, after: CpuReading): WindowCpu {
  const spent = (earlier: readonly ThreadTime[], later: readonly ThreadTime[]): ThreadCpu[] => {
    const start = new Map(earlier.map((thread) => [thread.tid, thread.ns]));
    return later.map(({ pid, tid, name, started, ns }) => ({ pid, tid, name, started, cpuMs: (ns - (start.get(tid) ?? 0)) / 1e6 }));
  };
  const share =
    before.machine === undefined || after.machine === undefined || after.machine.total <= before.machine.total
      ? undefined
      : (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total);
  return {
    server: spent(before.server, after.server),
    loadGenerator: spent(before.loadGenerator, after.loadGenerator),
    ...(share === undefined ? {} : { machineBusyShare: share }),
  };
}

/**
 * What `thread` does in a Node.js server whose main thread is `mainPid` and which started
 * `javascriptWorkers` worker threads; `all` is every thread of that process. A thread inherits
 * the name of the thread that creates it unless it names itself, and ONNX Runtime's intra-op
 * threads do not: a session loaded on the main thread gets threads named like the main thread,
 * one loaded in a worker threads named `WorkerThread`, like the worker. The toolkit's pool
 * starts all its workers before it loads a model, so its workers are the first
 * `javascriptWorkers` threads named `WorkerThread`.
 *
 * @example
 * ```ts
 * threadRole(thread, threads, server.pid, 1); // "onnx"
 * ```
 */
export function threadRole(thread: Pick<ThreadCpu, "tid" | "name">, all: readonly Pick<ThreadCpu, "tid" | "name" | "started">[], mainPid: number, javascriptWorkers: number): ThreadRole {
  if (thread.tid === mainPid) return "http";
  if (thread.name === workerThreadName) {
    const rank = all
      .filter((other) => other.name === workerThreadName)
      .sort((a, b) => a.started - b.started || a.tid - b.tid)
      .findIndex((other) => other.tid === thread.tid);
    return rank >= 0 && rank < javascriptWorkers ? "worker" : "onnx";
  }
  const main = all.find((other) => other.tid === mainPid);
  return main !== undefined && thread.name === main.name ? "onnx" : "other";
}

/**
 * A server's CPU in a window: its threads by role when it is one Node.js process
 * (`javascriptWorkers` given) on a Node that names its threads, and in all.
 *
 * @example
 * ```ts
 * splitCpu(run.cpu, { connections: 8, cores: 2, mainPid: server.pid, javascriptWorkers: 1 }).byRole?.http; // 4_100
 * ```
 */
export function splitCpu(
  window: WindowCpu,
  options: { readonly connections: number; readonly cores: number; readonly mainPid: number; readonly javascriptWorkers: number | undefined },
): CpuSplit {
  const sum = (threads: readonly ThreadCpu[]) => threads.reduce((total, thread) => total + thread.cpuMs, 0);
  const { javascriptWorkers } = options;
  let byRole: Record<ThreadRole, number> | undefined;
  const main = window.server.find((thread) => thread.tid === options.mainPid);
  // Node 24 names its threads; Node 22 leaves every one named "node", and roles cannot be told apart.
  if (javascriptWorkers !== undefined && main?.name === mainThreadName) {
    byRole = { http: 0, worker: 0, onnx: 0, other: 0 };
    for (const thread of window.server) byRole[threadRole(thread, window.server, options.mainPid, javascriptWorkers)] += thread.cpuMs;
  }
  return {
    connections: options.connections,
    cores: options.cores,
    serverMs: sum(window.server),
    loadGeneratorMs: sum(window.loadGenerator),
    ...(byRole === undefined ? {} : { byRole }),
    ...(window.machineBusyShare === undefined ? {} : { machineBusyShare: window.machineBusyShare }),
  };
}

/**
 * A line's worth of what a thread is, for a per-thread table: its role, and for the other
 * threads what their name says they are.
 *
 * @example
 * ```ts
 * describeThread(thread, threads, server.pid, 1); // "ONNX Runtime intra-op thread (WorkerThread, tid 4113)"
 * ```
 */
export function describeThread(thread: ThreadCpu, all: readonly ThreadCpu[], mainPid: number, javascriptWorkers: number): string {
  const id = `${thread.name}, tid ${thread.tid}`;
  const role = threadRole(thread, all, mainPid, javascriptWorkers);
  const label = role === "other" ? otherThreads[thread.name] : roleLabels[role];
  return label === undefined ? id : `${label} (${id})`;
}

/** What each role is called in reports. */
export const roleLabels: Readonly<Record<ThreadRole, string>> = {
  http: "HTTP thread",
  worker: "JavaScript worker thread",
  onnx: "ONNX Runtime intra-op thread",
  other: "other threads (libuv, V8 platform: GC, compilation)",
};

const workerThreadName = "WorkerThread";
const mainThreadName = "MainThread";

/** Threads Node.js and its add-ons name themselves. */
const otherThreads: Readonly<Record<string, string>> = {
  V8Worker: "V8 platform: GC, compilation",
  DelayedTaskSche: "V8 platform: delayed tasks",
  SignalInspector: "Node.js inspector signal thread",
  "libuv-worker": "libuv thread pool",
  "libvips worker": "sharp (libvips)",
};

/** The fields of a /proc stat line after the parenthesised name (which may hold spaces): state is [0]. */
/**
 * The fields of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line after the
 * parenthesised command name, which may hold spaces and parentheses: the state (field 3) first.
 *
 * @example
 * ```ts
 * statFields(readFileSync("/proc/self/stat", "utf8"))[11]; // utime (field 14), in clock ticks
 * ```
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}
