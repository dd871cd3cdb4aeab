/**
 * The load generator, run in its own process so it never shares an event loop with a server.
 * Prints one JSON line. Usage (`node --import tsx bench/load.ts ...`):
 *
 * - `latency <url> <requests> <warm-up requests>`: sequential single-row requests over one
 *   keep-alive connection, each timed with `performance.now()` ({@link LatencyRun});
 * - `throughput <url> <connections> <seconds> <warm-up seconds>`: autocannon at that concurrency,
 *   after a warm-up at the same concurrency ({@link ThroughputRun});
 * - `ping <url> <count> <delay ms> <interval ms>`: after the delay, `GET /ping` on a new
 *   connection every interval, with SageMaker's 2 s time limit ({@link PingRun}).
 *
 * Every `/invocations` answer must be a 200 whose body equals the first one seen (iris
 * predictions are deterministic); anything else counts as a failure. A ping needs a 200.
 */
import autocannon from "autocannon";
import { Agent, request as httpRequest } from "node:http";
import { summarize, type LatencySummary } from "./stats.js";
import { isIrisPrediction, requestBody } from "./workload.js";

/**
 * Requests that did not get the expected answer.
 *
 * @example
 * ```ts
 * const none: Failures = { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 };
 * ```
 */
export interface Failures {
  /** Connection errors (resets, refused), timeouts excluded. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** 2xx answers whose body differs from the expected predictions. */
  readonly mismatches: number;
}

/**
 * What `latency` mode prints.
 *
 * @example
 * ```ts
 * const run: LatencyRun = { requests: 3000, failures, latency, sampleBody: '{"predictions":[[0.997,0.003,0]]}' };
 * ```
 */
export interface LatencyRun {
  readonly requests: number;
  readonly failures: Failures;
  readonly latency: LatencySummary;
  /** The server's answer to the benchmark request. */
  readonly sampleBody: string;
}

/**
 * What `throughput` mode prints.
 *
 * @example
 * ```ts
 * const run: ThroughputRun = { connections: 8, seconds: 10, responses: 120000, requestsPerSecond: 12000, failures, latency };
 * ```
 */
export interface ThroughputRun {
  readonly connections: number;
  readonly seconds: number;
  /** 2xx responses in the measured window. */
  readonly responses: number;
  readonly requestsPerSecond: number;
  readonly failures: Failures;
  readonly latency: LatencySummary;
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
  readonly pings: number;
  readonly failures: Failures;
  readonly latency: LatencySummary;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

const requestTimeoutMs = 10_000;
const pingTimeoutMs = 2_000;
const jsonHeaders = { "content-type": "application/json", "content-length": String(Buffer.byteLength(requestBody)) };

class TimeoutError extends Error {}

function send(url: URL, options: { method: string; agent: Agent | false; body?: string; timeoutMs: number }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = options.body === undefined ? {} : jsonHeaders;
    const request = httpRequest(url, { method: options.method, agent: options.agent, headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.setTimeout(options.timeoutMs, () => request.destroy(new TimeoutError(`no answer within ${options.timeoutMs} ms`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

class FailureCounter {
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  mismatches = 0;

  /** Counts `answer` (or the error in its place); true when it is a 2xx with `expected` as body, if given. */
  check(answer: Answer | Error, expected?: string): boolean {
    if (answer instanceof TimeoutError) this.timeouts++;
    else if (answer instanceof Error) this.errors++;
    else if (answer.status < 200 || answer.status > 299) this.non2xx++;
    else if (expected !== undefined && answer.body !== expected) this.mismatches++;
    else return true;
    return false;
  }

  toJSON(): Failures {
    return { errors: this.errors, timeouts: this.timeouts, non2xx: this.non2xx, mismatches: this.mismatches };
  }
}

/** The server's answer to the benchmark request, checked to be one row of iris probabilities. */
async function expectedPrediction(url: URL, agent: Agent | false): Promise<string> {
  const answer = await send(url, { method: "POST", agent, body: requestBody, timeoutMs: requestTimeoutMs });
  if (answer.status !== 200 || !isIrisPrediction(answer.body)) {
    throw new Error(`${url.href} answered ${answer.status} ${answer.body.slice(0, 200)}, not one row of iris probabilities`);
  }
  return answer.body;
}

async function measureLatency(url: URL, requests: number, warmUpRequests: number): Promise<LatencyRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const expected = await expectedPrediction(url, agent);
  const failures = new FailureCounter();
  const post = () => send(url, { method: "POST", agent, body: requestBody, timeoutMs: requestTimeoutMs }).catch((error: Error) => error);
  for (let i = 0; i < warmUpRequests; i++) failures.check(await post(), expected);
  const samples: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const answer = await post();
    const elapsed = performance.now() - started;
    if (failures.check(answer, expected)) samples.push(elapsed);
  }
  agent.destroy();
  return { requests, failures: failures.toJSON(), latency: summarize(samples), sampleBody: expected };
}

function runAutocannon(options: autocannon.Options, onLatency: (ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: Error | null, result) => (error ? reject(error) : resolve(result)));
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) onLatency(responseTime);
    });
  });
}

async function measureThroughput(url: URL, connections: number, seconds: number, warmUpSeconds: number): Promise<ThroughputRun> {
  const expected = await expectedPrediction(url, false);
  const options: autocannon.Options = {
    url: url.href,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: requestBody,
    connections,
    timeout: requestTimeoutMs / 1000,
    expectBody: expected,
  };
  const warmUp = await runAutocannon({ ...options, duration: warmUpSeconds }, () => {});
  const samples: number[] = [];
  const measured = await runAutocannon({ ...options, duration: seconds }, (ms) => samples.push(ms));
  const failures: Failures = {
    errors: warmUp.errors - warmUp.timeouts + measured.errors - measured.timeouts,
    timeouts: warmUp.timeouts + measured.timeouts,
    non2xx: warmUp.non2xx + measured.non2xx,
    mismatches: warmUp.mismatches + measured.mismatches,
  };
  return {
    connections,
    seconds: measured.duration,
    responses: measured["2xx"],
    requestsPerSecond: measured["2xx"] / measured.duration,
    failures,
    latency: summarize(samples),
  };
}

async function measurePing(url: URL, pings: number, delayMs: number, intervalMs: number): Promise<PingRun> {
  const failures = new FailureCounter();
  const samples: number[] = [];
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  for (let i = 0; i < pings; i++) {
    const started = performance.now();
    const answer = await send(url, { method: "GET", agent: false, timeoutMs: pingTimeoutMs }).catch((error: Error) => error);
    const elapsed = performance.now() - started;
    if (failures.check(answer)) samples.push(elapsed);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - elapsed)));
  }
  return { pings, failures: failures.toJSON(), latency: summarize(samples) };
}

async function main([mode, target, ...numbers]: string[]): Promise<unknown> {
  const [a = Number.NaN, b = Number.NaN, c = Number.NaN] = numbers.map(Number);
  if (target === undefined) throw new Error("usage: load.ts latency|throughput|ping <base url> <numbers...>");
  switch (mode) {
    case "latency":
      return measureLatency(new URL("/invocations", target), a, b);
    case "throughput":
      return measureThroughput(new URL("/invocations", target), a, b, c);
    case "ping":
      return measurePing(new URL("/ping", target), a, b, c);
    default:
      throw new Error(`unknown mode ${JSON.stringify(mode)}: use latency, throughput or ping`);
  }
}

console.log(JSON.stringify(await main(process.argv.slice(2))));
