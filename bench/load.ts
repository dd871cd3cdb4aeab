/**
 * The load generator, run in its own process so it never shares an event loop with a server.
 * Takes one JSON argument, a {@link LoadOptions}, and prints one JSON line:
 *
 * - `closed-loop`: `connections` keep-alive connections, each sending the request again as soon
 *   as the answer arrives, for `warmUpSeconds` and then `seconds`; answers that arrive within
 *   the measured window count, whenever they were sent. The window stretches until at least
 *   {@link minimumAnswers} answers arrived (a model slower than the window), then the requests
 *   still in flight are abandoned, neither answers nor failures (on a slow model at c=64 they
 *   would otherwise hold the run for a whole queue's worth of inferences). Prints a
 *   {@link LoadRun}.
 * - `ping`: after `delayMs`, `GET /ping` on a new connection every `intervalMs`, with
 *   SageMaker's 2 s time limit, up to `pings` of them and none after `untilMs` (from the start).
 *   Prints a {@link PingRun}.
 *
 * Every answer must be a 2xx whose body equals the first answer's byte for byte; one that
 * differs only in float rounding (a batched run may sum in another order) counts as inexact,
 * anything else as a mismatch. Usage: `node --import tsx bench/load.ts '<options JSON>'`.
 */
import { readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { decodeNpy } from "../src/codecs/npy.js";
import { encodeRequest, KeepAliveConnection, RequestAbandonedError, RequestTimeoutError, type HttpAnswer } from "./http-client.js";
import { summarize, type LatencySummary } from "./stats.js";
import { cpuBetween, readCpu, type CpuReading, type WindowCpu } from "./thread-cpu.js";

/**
 * What the load generator is asked to do.
 *
 * @example
 * ```ts
 * const options: LoadOptions = { mode: "closed-loop", url, bodyFile, contentType: "application/json", accept: "application/json", connections: 8, seconds: 10, warmUpSeconds: 2 };
 * ```
 */
export type LoadOptions =
  | {
      readonly mode: "closed-loop";
      /** Base URL, `http://127.0.0.1:<port>`. */
      readonly url: string;
      readonly bodyFile: string;
      readonly contentType: string;
      readonly accept: string;
      readonly connections: number;
      /** The measured window, after `warmUpSeconds` at the same concurrency. */
      readonly seconds: number;
      readonly warmUpSeconds: number;
      readonly timeoutMs?: number;
      /** Server processes whose threads' CPU to read at the start and the end of the measured window (Linux). */
      readonly cpuOf?: readonly number[];
    }
  | { readonly mode: "ping"; readonly url: string; readonly pings: number; readonly delayMs: number; readonly intervalMs: number; readonly untilMs: number };

/**
 * Requests that did not get the expected answer.
 *
 * @example
 * ```ts
 * const none: Failures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };
 * ```
 */
export interface Failures {
  /** Connection errors (resets, refused, dropped), timeouts excluded. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** 2xx answers whose body is not the expected one, even allowing for float rounding. */
  readonly mismatches: number;
}

/**
 * What `closed-loop` mode prints. Failures count the warm-up too; latency and throughput only the
 * measured window.
 *
 * @example
 * ```ts
 * const run: LoadRun = { connections: 8, seconds: 10, responses: 120000, requestsPerSecond: 12000, failures, inexact: 0, latency, answer, windowUs };
 * ```
 */
export interface LoadRun {
  readonly connections: number;
  readonly seconds: number;
  /** 2xx answers completed in the measured window. */
  readonly responses: number;
  readonly requestsPerSecond: number;
  readonly failures: Failures;
  /** Answers that differ from the first only in float rounding (relative 1e-5). */
  readonly inexact: number;
  readonly latency: LatencySummary;
  /** The first answer, base64, with its content type. */
  readonly answer: { readonly body: string; readonly contentType: string };
  /** The measured window on the monotonic clock (`process.hrtime`, which V8's profiles use too), in µs. */
  readonly windowUs: { readonly from: number; readonly until: number };
  /** With `cpuOf`: the CPU each thread of those processes, and of this one, used in the measured window. */
  readonly cpu?: WindowCpu;
}

/**
 * What `ping` mode prints.
 *
 * @example
 * ```ts
 * const run: PingRun = { pings: 300, failures, latency };
 * ```
 */
export interface PingRun {
  /** Pings sent. */
  readonly pings: number;
  readonly failures: Failures;
  readonly latency: LatencySummary;
}

/** SageMaker's limit for an answer to `/invocations` (docs/sagemaker-contract.md). */
const defaultTimeoutMs = 60_000;
/** The fewest answers a window measures, however long that takes. */
export const minimumAnswers = 5;
const pingTimeoutMs = 2_000;

class FailureCounter {
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  mismatches = 0;
  inexact = 0;

  /** Counts `answer` (or the error in its place); true when it is a 2xx matching `expected`, if given. */
  check(answer: HttpAnswer | Error, expected?: HttpAnswer): boolean {
    if (answer instanceof RequestTimeoutError) this.timeouts++;
    else if (answer instanceof Error) this.errors++;
    else if (answer.status < 200 || answer.status > 299) this.non2xx++;
    else if (expected === undefined || answer.body.equals(expected.body)) return true;
    else if (nearlyEqual(answer, expected)) {
      this.inexact++;
      return true;
    } else this.mismatches++;
    return false;
  }

  toJSON(): Failures {
    return { errors: this.errors, timeouts: this.timeouts, non2xx: this.non2xx, mismatches: this.mismatches };
  }
}

/**
 * The numbers in an answer, for comparisons that allow float rounding: every number of a JSON
 * body in document order, or the elements of a `.npy` body.
 *
 * @example
 * ```ts
 * numbersIn({ status: 200, contentType: "application/json", body: Buffer.from('{"predictions":[[0.5,0.5]]}') }); // [0.5, 0.5]
 * ```
 */
export function numbersIn(answer: Pick<HttpAnswer, "contentType" | "body">): number[] {
  if (answer.contentType.startsWith("application/x-npy")) return Array.from(decodeNpy(answer.body).data as ArrayLike<number>, Number);
  const numbers: number[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === "number") numbers.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(walk);
  };
  walk(JSON.parse(answer.body.toString("utf8")));
  return numbers;
}

/**
 * Whether two answers hold the same numbers within `tolerance`, relative to the larger
 * magnitude (absolute below 1).
 *
 * @example
 * ```ts
 * sameNumbers([0.1, 0.2], [0.1000001, 0.2], 1e-5); // true
 * ```
 */
export function sameNumbers(left: readonly number[], right: readonly number[], tolerance: number): boolean {
  return (
    left.length === right.length &&
    left.every((value, index) => Math.abs(value - (right[index] as number)) <= tolerance * Math.max(1, Math.abs(value), Math.abs(right[index] as number)))
  );
}

function nearlyEqual(answer: HttpAnswer, expected: HttpAnswer): boolean {
  try {
    return sameNumbers(numbersIn(answer), numbersIn(expected), 1e-5);
  } catch {
    return false;
  }
}

function send(url: URL, options: { method: string; agent: Agent | false; timeoutMs: number }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method, agent: options.agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, contentType: response.headers["content-type"] ?? "", body: Buffer.concat(chunks) }));
      response.on("error", reject);
    });
    request.setTimeout(options.timeoutMs, () => request.destroy(new RequestTimeoutError(`no answer within ${options.timeoutMs} ms`)));
    request.on("error", reject);
    request.end();
  });
}

async function closedLoop(options: Extract<LoadOptions, { mode: "closed-loop" }>): Promise<LoadRun> {
  const url = new URL("/invocations", options.url);
  const bytes = encodeRequest({
    method: "POST",
    path: url.pathname,
    host: url.host,
    headers: { "content-type": options.contentType, accept: options.accept },
    body: readFileSync(options.bodyFile),
  });
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const connections = Array.from({ length: options.connections }, () => new KeepAliveConnection(url.hostname, Number(url.port), bytes, timeoutMs));
  const expected = await connections[0]?.send();
  if (expected === undefined || expected.status !== 200) {
    throw new Error(`${url.href} answered ${expected?.status} ${expected?.body.toString("utf8").slice(0, 300)}`);
  }
  const failures = new FailureCounter();
  const samples: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureUntil = Number.POSITIVE_INFINITY;
  let hrtimeFrom = 0n;
  const { cpuOf } = options;
  let cpuBefore: CpuReading | undefined;
  let cpuAfter: CpuReading | undefined;
  const startMeasuring = () => {
    if (cpuOf !== undefined) cpuBefore = readCpu(cpuOf);
    measureFrom = performance.now();
    hrtimeFrom = process.hrtime.bigint();
  };
  let stretched = false;
  // At the timer that ends the window, or at the first answer after it when the timer runs late.
  const readCpuAtClose = () => {
    if (cpuOf !== undefined) cpuAfter ??= readCpu(cpuOf);
  };
  const end = (at: number) => {
    readCpuAtClose();
    measureUntil = at;
    connections.forEach((connection) => connection.abandon());
  };
  const send = async (connection: KeepAliveConnection, measured: (finished: number) => boolean) => {
    const started = performance.now();
    const answer = await connection.send().catch((error: Error) => error);
    const finished = performance.now();
    if (finished >= measureUntil) readCpuAtClose();
    if (answer instanceof RequestAbandonedError) return finished;
    if (failures.check(answer, expected) && measured(finished)) {
      samples.push(finished - started);
      if (stretched && samples.length >= minimumAnswers) end(finished);
    }
    return finished;
  };
  let endTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    startMeasuring();
    measureUntil = measureFrom + options.seconds * 1000;
    endTimer = setTimeout(() => {
      if (samples.length >= minimumAnswers) end(measureUntil);
      else {
        stretched = true;
        measureUntil = Number.POSITIVE_INFINITY;
        // An answer after the first end may have read the CPU already; the window goes on.
        cpuAfter = undefined;
        // A server that answers nothing still ends the run, one request time limit later.
        endTimer = setTimeout(() => end(performance.now()), timeoutMs);
      }
    }, options.seconds * 1000);
  }, options.warmUpSeconds * 1000);
  const loop = async (connection: KeepAliveConnection) => {
    let finished = performance.now();
    while (finished < measureUntil) finished = await send(connection, (at) => at >= measureFrom && at <= measureUntil);
  };
  await Promise.all(connections.map(loop));
  clearTimeout(timer);
  clearTimeout(endTimer);
  const hrtimeUntil = hrtimeFrom + BigInt(Math.round((measureUntil - measureFrom) * 1e6));
  connections.forEach((connection) => connection.close());
  const seconds = (measureUntil - measureFrom) / 1000;
  return {
    connections: options.connections,
    seconds,
    responses: samples.length,
    requestsPerSecond: samples.length / seconds,
    failures: failures.toJSON(),
    inexact: failures.inexact,
    latency: summarize(samples),
    answer: { body: expected.body.toString("base64"), contentType: expected.contentType },
    windowUs: { from: Number(hrtimeFrom / 1000n), until: Number(hrtimeUntil / 1000n) },
    ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpu: cpuBetween(cpuBefore, cpuAfter) }),
  };
}

async function ping(options: Extract<LoadOptions, { mode: "ping" }>): Promise<PingRun> {
  const url = new URL("/ping", options.url);
  const failures = new FailureCounter();
  const samples: number[] = [];
  const deadline = performance.now() + options.untilMs;
  await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  let sent = 0;
  for (; sent < options.pings && performance.now() < deadline; sent++) {
    const started = performance.now();
    const answer = await send(url, { method: "GET", agent: false, timeoutMs: pingTimeoutMs }).catch((error: Error) => error);
    const elapsed = performance.now() - started;
    if (failures.check(answer)) samples.push(elapsed);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.intervalMs - elapsed)));
  }
  return { pings: sent, failures: failures.toJSON(), latency: summarize(samples) };
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? "{}") as LoadOptions;
  console.log(JSON.stringify(options.mode === "ping" ? await ping(options) : await closedLoop(options)));
}
