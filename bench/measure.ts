/**
 * Measures one contender on one model and request kind: a fresh server, the load generator in
 * its own process at each concurrency in turn, `/ping` from a third process during the c=64
 * run, the CPU of each of the server's threads and of the load generator during the c=8 run,
 * and the server's resident memory at the end.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Contender } from "./contenders.js";
import type { LoadOptions, LoadRun, PingRun } from "./load.js";
import { runNodeForJson } from "./processes.js";
import { processTree, splitCpu, type CpuSplit } from "./thread-cpu.js";
import { requestBodyPath, type BenchModel, type RequestSpec } from "./workloads.js";

/**
 * Durations of one cell.
 *
 * @example
 * ```ts
 * const sizes: CellSizes = { seconds: 10, warmUpSeconds: 2, pings: 300 };
 * ```
 */
export interface CellSizes {
  /** Measured window of each concurrency. */
  readonly seconds: number;
  /** Warm-up at the same concurrency before it. */
  readonly warmUpSeconds: number;
  /** Pings spread over the c=64 window. */
  readonly pings: number;
}

/**
 * Resident memory of a process, in MiB.
 *
 * @example
 * ```ts
 * const memory: Memory = { rssMiB: 182.4, peakRssMiB: 190.1 };
 * ```
 */
export interface Memory {
  /** `VmRSS`: resident now. */
  readonly rssMiB: number;
  /** `VmHWM`: the most it was resident at once. */
  readonly peakRssMiB: number;
}

/**
 * Everything measured on one server.
 *
 * @example
 * ```ts
 * const cell: ServerCell = { contender: "toolkit", command, runs: [c1, c8, c64], ping, memory };
 * ```
 */
export interface ServerCell {
  readonly contender: string;
  readonly command?: string;
  /** One run per concurrency, in the order measured. */
  readonly runs: readonly LoadRun[];
  /** `/ping` during the c=64 run. */
  readonly ping?: PingRun;
  /** The server process's memory after the runs (the toolkit's threads share one process). */
  readonly memory?: Memory;
  /** The server's CPU, by thread, and the load generator's in the c=8 run (Linux). */
  readonly cpu?: CpuSplit;
  /** Set when the contender does not apply to the model. */
  readonly skipped?: string;
  /** Set when the server or a run failed: the rest of the matrix goes on. */
  readonly error?: string;
}

/** The concurrency during which `/ping` is sampled. */
export const pingConcurrency = 64;
/** The concurrency during which the CPU of each thread is read. */
export const cpuConcurrency = 8;
/** Time for the ping process to start while the load process warms up, before the first ping. */
const pingStartMarginMs = 1_000;
const tsx = ["--import", "tsx"];

/**
 * Starts `contender` for `model` and `request`, runs each concurrency, and stops it.
 *
 * @example
 * ```ts
 * const cell = await measureServer(toolkit, benchModel("mlp"), json1, [1, 8, 64], sizes, progress);
 * ```
 */
export async function measureServer(
  contender: Contender,
  model: BenchModel,
  request: RequestSpec,
  concurrencies: readonly number[],
  sizes: CellSizes,
  progress: (message: string) => void,
): Promise<ServerCell> {
  const skipped = contender.skipReason(model);
  if (skipped !== undefined) return { contender: contender.name, runs: [], skipped };
  const label = `${model.id} ${request.kind} ${contender.name}`;
  let started;
  try {
    started = await contender.start(model, request);
  } catch (error) {
    return { contender: contender.name, runs: [], error: `did not start: ${(error as Error).message}` };
  }
  const { server, command } = started;
  const runs: LoadRun[] = [];
  let ping: PingRun | undefined;
  let cpu: CpuSplit | undefined;
  try {
    for (const connections of concurrencies) {
      progress(`${label}: c=${connections}, ${sizes.warmUpSeconds} + ${sizes.seconds} s`);
      const options: LoadOptions = {
        mode: "closed-loop",
        url: server.url,
        bodyFile: requestBodyPath(model.id, request.kind),
        contentType: request.contentType,
        accept: request.accept,
        connections,
        seconds: sizes.seconds,
        warmUpSeconds: sizes.warmUpSeconds,
        ...(connections === cpuConcurrency ? { cpuOf: processTree(server.pids) } : {}),
      };
      const load = runNodeForJson<LoadRun>([...tsx, "bench/load.ts", JSON.stringify(options)]);
      if (connections === pingConcurrency) {
        const delayMs = sizes.warmUpSeconds * 1000 + pingStartMarginMs;
        const intervalMs = Math.max(1, (sizes.seconds * 1000 - 1.5 * pingStartMarginMs) / sizes.pings);
        // No ping after the window: the load generator abandons its requests then.
        const untilMs = (sizes.warmUpSeconds + sizes.seconds) * 1000;
        const pings: LoadOptions = { mode: "ping", url: server.url, pings: sizes.pings, delayMs, intervalMs, untilMs };
        const [loaded, pinged] = await Promise.all([load, runNodeForJson<PingRun>([...tsx, "bench/load.ts", JSON.stringify(pings)])]);
        runs.push(loaded);
        ping = pinged;
      } else {
        runs.push(await load);
      }
      const window = runs.at(-1)?.cpu;
      if (window !== undefined) {
        cpu = splitCpu(window, { connections, cores: availableParallelism(), mainPid: server.pid, javascriptWorkers: contender.javascriptWorkers });
      }
    }
    const memory = contender.kind === "python" ? undefined : readMemory(server.pid);
    return {
      contender: contender.name,
      command,
      runs,
      ...(ping === undefined ? {} : { ping }),
      ...(memory === undefined ? {} : { memory }),
      ...(cpu === undefined ? {} : { cpu }),
    };
  } catch (error) {
    return { contender: contender.name, command, runs, error: (error as Error).message };
  } finally {
    await server.stop();
  }
}

/**
 * A process's resident memory from /proc (Linux), or undefined elsewhere.
 *
 * @example
 * ```ts
 * readMemory(process.pid)?.rssMiB; // 61.2
 * ```
 */
export function readMemory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024 };
}
