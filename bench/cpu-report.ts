/**
 * Where the CPU goes per request: each server's threads and the load generator over the
 * measured c=8 window, per request answered, and the table of docs/benchmarks.md that shows it.
 */
import { integer, micros, percent, row } from "./markdown.js";
import type { ServerCell } from "./measure.js";
import type { RequestResults } from "./report.js";
import type { ThreadRole } from "./thread-cpu.js";

/**
 * A server's CPU per request in one run, in µs, and how busy the cores were.
 *
 * @example
 * ```ts
 * const cost = cpuPerRequest(server);
 * cost?.total; // 94.2: server and load generator
 * ```
 */
export interface CpuPerRequest {
  readonly connections: number;
  readonly requestsPerSecond: number;
  readonly cores: number;
  /** The server's threads by role; absent for a server of several processes. */
  readonly byRole?: Readonly<Record<ThreadRole, number>>;
  /** Every thread of the server. */
  readonly server: number;
  readonly loadGenerator: number;
  /** Server and load generator: what the machine spent per request. */
  readonly total: number;
  /** The server's and the load generator's CPU as a share of every core over the window. */
  readonly busyShare: number;
  /** The share of every core busy over the window, other processes' work included. */
  readonly machineBusyShare?: number;
}

/**
 * `server`'s CPU per request in the run whose threads were read, or undefined when none was
 * (not Linux, or the run answered nothing).
 *
 * @example
 * ```ts
 * cpuPerRequest(toolkit)?.byRole?.http; // 27.0
 * ```
 */
export function cpuPerRequest(server: ServerCell): CpuPerRequest | undefined {
  const split = server.cpu;
  const run = split === undefined ? undefined : server.runs.find((candidate) => candidate.connections === split.connections && candidate.responses > 0);
  if (split === undefined || run === undefined) return undefined;
  const perRequest = (cpuMs: number) => (cpuMs * 1000) / run.responses;
  const { byRole } = split;
  const serverUs = perRequest(split.serverMs);
  const loadGeneratorUs = perRequest(split.loadGeneratorMs);
  return {
    connections: split.connections,
    requestsPerSecond: run.requestsPerSecond,
    cores: split.cores,
    ...(byRole === undefined
      ? {}
      : { byRole: { http: perRequest(byRole.http), worker: perRequest(byRole.worker), onnx: perRequest(byRole.onnx), other: perRequest(byRole.other) } }),
    server: serverUs,
    loadGenerator: loadGeneratorUs,
    total: serverUs + loadGeneratorUs,
    busyShare: (split.serverMs + split.loadGeneratorMs) / (split.cores * run.seconds * 1000),
    ...(split.machineBusyShare === undefined ? {} : { machineBusyShare: split.machineBusyShare }),
  };
}

/**
 * The share of one core a thread role kept busy: its µs per request times the requests per second.
 *
 * @example
 * ```ts
 * coreShare(27, 11_000); // 0.297
 * ```
 */
export function coreShare(microsPerRequest: number, requestsPerSecond: number): number {
  return (microsPerRequest * requestsPerSecond) / 1e6;
}

/**
 * The section "Where the CPU goes": one row per server whose threads were read, or nothing when
 * none was.
 *
 * @example
 * ```ts
 * lines.push(...cpuTable(results.cells));
 * ```
 */
export function cpuTable(cells: readonly RequestResults[]): string[] {
  const rows = cells.flatMap((cell) =>
    cell.servers.flatMap((server) => {
      const cost = cpuPerRequest(server);
      return cost === undefined ? [] : [{ cell, server, cost }];
    }),
  );
  const [first] = rows;
  if (first === undefined) return [];
  const roles: readonly ThreadRole[] = ["http", "worker", "onnx", "other"];
  const header = [
    "model",
    "request",
    "contender",
    "req/s",
    ...roles.map((role) => shortLabels[role]),
    "server, all threads",
    "load generator",
    "server + load generator",
    "busy: server + load generator",
    "busy: every process",
  ];
  return [
    `### Where the CPU goes at c=${first.cost.connections} (µs of CPU per request)`,
    "",
    `Each thread's CPU time (\`/proc/<pid>/task/<tid>/schedstat\`) read by the load generator as the measured c=${first.cost.connections} window ` +
      "opens and closes, divided by the requests answered in it. HTTP thread: the main thread, which owns the sockets (the minimal " +
      "server's only JavaScript thread). Workers: the toolkit's JavaScript worker threads (for the minimal server, the thread tsx runs its " +
      "module hooks on). ONNX Runtime: the sessions' own threads, which carry the name of the thread that loaded the session. Other: " +
      "libuv's thread pool, V8's platform threads (GC, compilation), Node's inspector thread. The Python stack is counted as a whole, " +
      `nginx and every gunicorn process. Busy: that CPU as a share of ${first.cost.cores} cores × the window; "every process" is the machine's own count ` +
      "(`/proc/stat`), other work on the machine included.",
    "",
    row(header),
    row(header.map((_, column) => (column < 3 ? "---" : "---:"))),
    ...rows.map(({ cell, server, cost }) =>
      row([
        cell.model,
        cell.label,
        server.contender,
        integer(cost.requestsPerSecond),
        ...roles.map((role) => (cost.byRole === undefined ? "–" : micros(cost.byRole[role]))),
        micros(cost.server),
        micros(cost.loadGenerator),
        micros(cost.total),
        percent(cost.busyShare),
        cost.machineBusyShare === undefined ? "–" : percent(cost.machineBusyShare),
      ]),
    ),
    "",
  ];
}

const shortLabels: Readonly<Record<ThreadRole, string>> = {
  http: "HTTP thread",
  worker: "workers",
  onnx: "ONNX Runtime",
  other: "other",
};

