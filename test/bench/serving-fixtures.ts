/**
 * Measured results built by hand for the serving benchmark's report tests: load runs, floors,
 * cells and CPU splits with round figures.
 */
import type { FloorResult } from "../../bench/floor.js";
import type { LoadRun, PingRun } from "../../bench/load.js";
import type { ServerCell } from "../../bench/measure.js";
import type { RequestResults } from "../../bench/report.js";
import { summarize } from "../../bench/stats.js";
import type { CpuSplit, ThreadRole } from "../../bench/thread-cpu.js";
import type { ModelId, RequestKind } from "../../bench/workloads.js";

export const noFailures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };

export const jsonAnswer = (predictions: number[][]) => ({ body: Buffer.from(JSON.stringify({ predictions })).toString("base64"), contentType: "application/json" });

/** A 10 s run at `connections` with this throughput and latency. */
export function run(connections: number, requestsPerSecond: number, p50: number, p99 = p50 * 2, answer = jsonAnswer([[0.25, 0.75]])): LoadRun {
  return {
    connections,
    seconds: 10,
    responses: requestsPerSecond * 10,
    requestsPerSecond,
    failures: noFailures,
    inexact: 0,
    latency: { ...summarize([p50]), p50, p99 },
    answer,
    windowUs: { from: 0, until: 10_000_000 },
  };
}

export function ping(p99: number, failed = 0): PingRun {
  return { pings: 300, failures: { ...noFailures, timeouts: failed }, latency: { ...summarize([p99]), p99 } };
}

/** A floor whose stages each take `stages` ms at the median (decode, run, encode), `total` in all. */
export function floor(total = 1, answer = jsonAnswer([[0.25, 0.75]]), stages: { decode: number; run: number; encode: number } = { decode: total, run: total, encode: total }): FloorResult {
  const latency = (p50: number) => ({ ...summarize([p50]), p50 });
  return { calls: 100, runs: "session.run", decode: latency(stages.decode), run: latency(stages.run), encode: latency(stages.encode), total: latency(total), answer };
}

export function cell(model: ModelId, request: RequestKind, servers: ServerCell[], floorResult = floor()): RequestResults {
  return { model, request, label: request, concurrencies: [1, 8, 64], floor: floorResult, servers };
}

/**
 * The CPU split of a 10 s c=8 window on 2 cores in which the server answered `requests`, with
 * each figure given in µs per request.
 */
export function cpuSplit(
  requests: number,
  perRequest: { readonly server: number; readonly loadGenerator: number; readonly byRole?: Readonly<Record<ThreadRole, number>>; readonly machineBusyShare?: number },
): CpuSplit {
  const toMs = (micros: number) => (micros * requests) / 1000;
  const { byRole, machineBusyShare } = perRequest;
  return {
    connections: 8,
    cores: 2,
    serverMs: toMs(perRequest.server),
    loadGeneratorMs: toMs(perRequest.loadGenerator),
    ...(byRole === undefined ? {} : { byRole: { http: toMs(byRole.http), worker: toMs(byRole.worker), onnx: toMs(byRole.onnx), other: toMs(byRole.other) } }),
    ...(machineBusyShare === undefined ? {} : { machineBusyShare }),
  };
}
