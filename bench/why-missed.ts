/**
 * The line beside each missed throughput target that says where the time went, written from the
 * same run's figures: the baselines' own rates, the in-process floor's stages, and the CPU each
 * server's threads and the load generator spent per request (bench/cpu-report.ts).
 */
import { coreShare, cpuPerRequest, type CpuPerRequest } from "./cpu-report.js";
import { integer, micros, ms, percent } from "./markdown.js";
import { answeredRun, minimalName, pythonRow, serverIn, type BatchingPair, type Comparison, type RequestResults, type Target } from "./report.js";

/**
 * At least this share of the cores busy, or of one core for one thread, counts as saturated.
 */
export const saturatedShare = 0.9;
/** Work outside the server's and the load generator's threads from this share of the cores up is named. */
const outsideShare = 0.1;

/**
 * `targets` with a `why` on each missed throughput target the run has the figures for; the
 * others unchanged.
 *
 * @example
 * ```ts
 * const targets = explainMisses(evaluateTargets(cells, pair), cells, pair);
 * ```
 */
export function explainMisses(targets: readonly Target[], cells: readonly RequestResults[], batching: BatchingPair): Target[] {
  return targets.map((target) => {
    if (target.result !== "missed" || target.comparison === undefined) return target;
    const { comparison } = target;
    const cell = cells.find((candidate) => candidate.model === comparison.model && candidate.request === comparison.request);
    if (cell === undefined) return target;
    const why =
      comparison.baseline === "python"
        ? whyBelowPython(comparison, cell)
        : comparison.baseline === "minimal"
          ? whyBelowMinimal(comparison, cell)
          : whyBatchingFallsShort(comparison, cell, batching);
    return why === undefined ? target : { ...target, why };
  });
}

/**
 * Why the toolkit is under its goal against the Python stack: what the goal means in req/s and in
 * CPU per request, what the minimal server reaches, and how much of a request is the codec.
 *
 * @example
 * ```ts
 * whyBelowPython(comparison, cell); // "3x Python's 648 req/s is 1,944 req/s. The minimal node:http server ..."
 * ```
 */
export function whyBelowPython(comparison: Comparison, cell: RequestResults): string | undefined {
  const python = answeredRun(serverIn(cell, pythonRow), comparison.connections);
  if (python === undefined) return undefined;
  const goalRate = comparison.factor * python.requestsPerSecond;
  const sentences = [`${comparison.factor}x Python's ${integer(python.requestsPerSecond)} req/s is ${integer(goalRate)} req/s.`];
  const minimal = answeredRun(serverIn(cell, minimalName), comparison.connections);
  if (minimal !== undefined) {
    const ratio = minimal.requestsPerSecond / python.requestsPerSecond;
    sentences.push(
      `The minimal node:http server, with no toolkit in the way, did ${integer(minimal.requestsPerSecond)} req/s, ` +
        `${ratio.toFixed(2)}x Python${ratio < comparison.factor ? `, below ${comparison.factor}x itself` : ""}.`,
    );
  }
  if (!("error" in cell.floor)) {
    const { decode, run, encode, total } = cell.floor;
    const codec = decode.p50 + encode.p50;
    sentences.push(
      `In process, without HTTP, a request takes ${ms(total.p50)} ms (p50): ${ms(decode.p50)} ms decoding the body and ` +
        `${ms(encode.p50)} ms encoding the answer around ${ms(run.p50)} ms of ${cell.floor.runs}, so the codec is ` +
        `${percent(codec / (codec + run.p50))} of it.`,
    );
  }
  const toolkit = costOf(cell, comparison.toolkit);
  if (toolkit !== undefined) {
    sentences.push(
      `At c=${toolkit.connections} the toolkit and the load generator spent ${micros(toolkit.total)} µs of CPU per request ` +
        `(${micros(toolkit.server)} in the server); ${comparison.factor}x Python on ${toolkit.cores} cores leaves ` +
        `${micros((toolkit.cores * 1e6) / goalRate)} µs.`,
    );
  }
  return sentences.join(" ");
}

/**
 * Why the toolkit is under its goal against the minimal server: the CPU each spends per request,
 * on which threads, and whether the cores or one thread were saturated or sat idle.
 *
 * @example
 * ```ts
 * whyBelowMinimal(comparison, cell); // "CPU per request at c=8: the toolkit 27.0 µs on its HTTP thread ..."
 * ```
 */
export function whyBelowMinimal(comparison: Comparison, cell: RequestResults): string | undefined {
  const toolkit = costOf(cell, comparison.toolkit);
  const minimal = costOf(cell, minimalName);
  if (toolkit === undefined || minimal === undefined) return undefined;
  const { cores } = toolkit;
  return [
    `CPU per request at c=${toolkit.connections}: the toolkit ${describeThreads(toolkit)}; ` +
      `the minimal server ${minimal.byRole === undefined ? "" : `${micros(minimal.byRole.http)} µs on its one thread, `}${micros(minimal.server)} µs in all.`,
    `With the load generator (${micros(toolkit.loadGenerator)} and ${micros(minimal.loadGenerator)} µs), the machine spent ` +
      `${micros(toolkit.total)} vs ${micros(minimal.total)} µs per request: ${cores} cores at that cost allow ` +
      `${integer((cores * 1e6) / toolkit.total)} vs ${integer((cores * 1e6) / minimal.total)} req/s; ` +
      `the run measured ${integer(toolkit.requestsPerSecond)} vs ${integer(minimal.requestsPerSecond)}.`,
    `The toolkit ${describeBound(toolkit)}. The minimal server ${describeBound(minimal)}.`,
  ].join(" ");
}

/**
 * Why batching falls short of its goal: what the goal is in req/s beside what the minimal server
 * and the in-process floor reach, and what that rate would cost the HTTP thread and the load
 * generator at the CPU per request they spent at c=8.
 *
 * @example
 * ```ts
 * whyBatchingFallsShort(comparison, cell, pair); // "3x the unbatched 10,167 req/s is 30,501 req/s. ..."
 * ```
 */
export function whyBatchingFallsShort(comparison: Comparison, cell: RequestResults, batching: BatchingPair): string | undefined {
  const batched = answeredRun(serverIn(cell, batching.batched), comparison.connections);
  const unbatched = answeredRun(serverIn(cell, batching.unbatched), comparison.connections);
  if (batched === undefined || unbatched === undefined) return undefined;
  if (batched.requestsPerSecond >= comparison.factor * unbatched.requestsPerSecond) {
    return `The speed-up is there; the batched p99, ${ms(batched.latency.p99)} ms, is above the unbatched ${ms(unbatched.latency.p99)} ms.`;
  }
  const goalRate = comparison.factor * unbatched.requestsPerSecond;
  const sentences = [`${comparison.factor}x the unbatched ${integer(unbatched.requestsPerSecond)} req/s is ${integer(goalRate)} req/s.`];
  const minimal = answeredRun(serverIn(cell, minimalName), comparison.connections);
  const floor = "error" in cell.floor ? undefined : cell.floor;
  if (minimal !== undefined || floor !== undefined) {
    const parts = [
      ...(minimal === undefined ? [] : [`the minimal node:http server did ${integer(minimal.requestsPerSecond)} req/s at c=${comparison.connections}`]),
      ...(floor === undefined
        ? []
        : [`in process, without HTTP, one request takes ${ms(floor.total.p50)} ms (p50), ${integer(1000 / floor.total.p50)} req/s on one thread`]),
    ];
    sentences.push(`In this run ${parts.join(", and ")}.`);
  }
  const cost = costOf(cell, batching.batched);
  if (cost?.byRole !== undefined) {
    sentences.push(
      `At c=${cost.connections} the batched toolkit's HTTP thread spent ${micros(cost.byRole.http)} µs per request and the load generator ` +
        `${micros(cost.loadGenerator)}: at ${integer(goalRate)} req/s that is ${coreShare(cost.byRole.http, goalRate).toFixed(2)} of a core for ` +
        `the HTTP thread alone and ${coreShare(cost.loadGenerator, goalRate).toFixed(2)} for the load generator, of ${cost.cores}.`,
    );
  }
  return sentences.join(" ");
}

/**
 * Whether the cores, or the server's HTTP thread, were saturated, or CPU sat idle. The cores count
 * as saturated by the server's and the load generator's threads or by the machine's own count
 * (/proc/stat), which also holds other processes and the kernel's work on the loopback traffic
 * that no thread is charged for.
 *
 * @example
 * ```ts
 * describeBound(cost); // "kept 52% of the cores busy with the load generator (60% with every process) and its HTTP thread 30% of the window: latency-bound, with idle CPU"
 * ```
 */
export function describeBound(cost: CpuPerRequest): string {
  const machine = cost.machineBusyShare;
  const http = cost.byRole === undefined ? undefined : coreShare(cost.byRole.http, cost.requestsPerSecond);
  const figures =
    `kept ${percent(cost.busyShare)} of the cores busy with the load generator` +
    (machine === undefined ? "" : ` (${percent(machine)} with every process)`) +
    (http === undefined ? "" : ` and its HTTP thread ${percent(http)} of the window`);
  // The two counts differ by a clock tick or so; either one saturated is enough.
  if (Math.max(machine ?? 0, cost.busyShare) >= saturatedShare) {
    const outside = machine === undefined ? 0 : machine - cost.busyShare;
    if (outside < outsideShare) return `${figures}: CPU-bound, the cores saturated`;
    return `${figures}: the cores were saturated, ${percent(outside)} of them by work outside its and the load generator's threads (other processes, the kernel's)`;
  }
  if (http !== undefined && http >= saturatedShare) return `${figures}: bound by that one thread`;
  return `${figures}: latency-bound, with idle CPU`;
}

function describeThreads(cost: CpuPerRequest): string {
  if (cost.byRole === undefined) return `${micros(cost.server)} µs`;
  const { http, worker, onnx, other } = cost.byRole;
  return (
    `${micros(http)} µs on its HTTP thread, ${micros(worker)} in its workers, ${micros(onnx)} in ONNX Runtime's threads and ` +
    `${micros(other)} in other threads, ${micros(cost.server)} µs in all`
  );
}

function costOf(cell: RequestResults, name: string): CpuPerRequest | undefined {
  const server = serverIn(cell, name);
  return server === undefined ? undefined : cpuPerRequest(server);
}
