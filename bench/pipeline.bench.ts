/**
 * `npm run bench:pipeline`: what SageMaker-style multi-container pipelines cost, and the OCR
 * example's one-container reader against the same steps run in process. Writes its section of
 * docs/benchmarks.md (bench/pipeline-report.ts) and prints it.
 *
 * 1. Hops: echo containers (bench/pipeline-echo-container.ts) called directly, through the
 *    `pipeline` gateway in Direct mode, and chained in Serial mode by 2 to 15 of them, with a
 *    small and a large body.
 * 2. OCR, one page: examples/ocr/read-text.ts's handlers called in process
 *    (bench/pipeline-ocr-in-process.ts); the same file served by `serve`, with `/ping` asked every
 *    100 ms for 5 s before (idle) and while it reads; the two-container pipeline (inference.ts,
 *    then recognition.ts) started by `pipeline`. All three must read the same text, or the run
 *    fails.
 *
 * Each server is its own process (`node dist/cli.js`, its log on /dev/null); this process only
 * sends requests, one at a time over a keep-alive connection. Environment knobs:
 * - `BENCH_HOP_REQUESTS` (300) and `BENCH_HOP_WARMUP` (50): per route and body size;
 * - `BENCH_OCR_REQUESTS` (30) and `BENCH_OCR_WARMUP` (5): per OCR form;
 * - `BENCH_SKIP_BUILD=1`: bench the `dist/` already built instead of running `tsc` first.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { loadavg } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, runNodeForJson, startNodeServer, type ChildServer } from "./processes.js";
import { describeMachine } from "./machine.js";
import { benchPageLines, renderBenchPage } from "./pipeline-ocr-page.js";
import { writePipelineSection, type HopRow, type PipelineBenchResults } from "./pipeline-report.js";
import { summarize, type LatencySummary } from "./stats.js";
import { positiveIntegerFromEnv } from "./env-knobs.js";

const tsx = ["--import", "tsx"];
const cli = "dist/cli.js";
const smallBytes = 1024;
const largeBytes = 1024 * 1024;
const serialLengths = [2, 4, 8, 15] as const;
const pingIntervalMs = 100;
const idlePingMs = 5_000;
const ocrFlags = [
  "--container-env",
  "detection:BYOC_HANDLERS=examples/ocr/inference.ts",
  "--container-env",
  "detection:SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=application/x-ocr-lines+json",
  "--container-env",
  "recognition:BYOC_HANDLERS=examples/ocr/recognition.ts",
];

function progress(message: string): void {
  process.stderr.write(`[bench:pipeline] ${message}\n`);
}

function build(): void {
  if (process.env["BENCH_SKIP_BUILD"] === "1") {
    if (!existsSync(join(repoRoot, cli))) throw new Error(`BENCH_SKIP_BUILD=1 but ${cli} is missing: run \`npm run build\` first`);
    return;
  }
  progress("building dist/ (tsc -p tsconfig.json)");
  const result = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.json failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
}

/** One POST over `agent`; resolves with the answer's body, rejects on a status other than 200. */
function post(url: string, body: Buffer, headers: Readonly<Record<string, string>>, agent: Agent): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: "POST", agent, headers: { ...headers, accept: "application/json", "content-length": body.length } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const answer = Buffer.concat(chunks);
        if (response.statusCode === 200) resolve(answer);
        else reject(new Error(`${url} answered ${response.statusCode}: ${answer.toString("utf8").slice(0, 500)}`));
      });
      response.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** `warmUp` + `requests` sequential POSTs over one keep-alive connection; the time of each counted one, and the last answer. */
async function timeRequests(
  url: string,
  body: Buffer,
  headers: Readonly<Record<string, string>>,
  requests: number,
  warmUp: number,
): Promise<{ summary: LatencySummary; last: Buffer }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let last: Buffer = Buffer.alloc(0);
  try {
    for (let index = 0; index < warmUp + requests; index++) {
      const started = performance.now();
      last = await post(url, body, headers, agent);
      if (index >= warmUp) samples.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return { summary: summarize(samples), last };
}

/** `GET /ping` on a new connection every interval until `stop` is called; the time of each. */
function pingEvery(url: string, intervalMs: number): () => Promise<LatencySummary> {
  const samples: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000), headers: { connection: "close" } });
        await response.arrayBuffer();
        if (response.status !== 200) failures.push(`status ${response.status}`);
        samples.push(performance.now() - started);
      } catch (error) {
        failures.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    if (failures.length > 0) throw new Error(`/ping failed ${failures.length} times during the OCR run: ${failures.slice(0, 3).join("; ")}`);
    return summarize(samples);
  };
}

async function startEchoContainers(count: number): Promise<ChildServer[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const port = await freePort();
      return startNodeServer([...tsx, "bench/pipeline-echo-container.ts", String(port)], port);
    }),
  );
}

async function startGateway(containers: readonly string[], extra: readonly string[] = [], readyMs = 30_000): Promise<ChildServer> {
  const port = await freePort();
  const args = [cli, "pipeline", "--host", "127.0.0.1", "--port", String(port), ...containers.flatMap((container) => ["--container", container]), ...extra];
  return startNodeServer(args, port, {}, readyMs);
}

async function measureHops(requests: number, warmUp: number): Promise<HopRow[]> {
  const small = Buffer.alloc(smallBytes, 7);
  const large = Buffer.alloc(largeBytes, 7);
  // Large bodies take longer: a third as many requests.
  const largeRequests = Math.max(1, Math.round(requests / 3));
  const largeWarmUp = Math.max(1, Math.round(warmUp / 3));
  const measure = async (route: string, containers: number, url: string, headers: Record<string, string> = {}): Promise<HopRow> => {
    progress(`${route}: ${requests} requests of ${smallBytes} B, then ${largeRequests} of ${largeBytes} B`);
    const withType = { "content-type": "application/octet-stream", ...headers };
    const smallRun = await timeRequests(url, small, withType, requests, warmUp);
    const largeRun = await timeRequests(url, large, withType, largeRequests, largeWarmUp);
    if (!smallRun.last.equals(small) || !largeRun.last.equals(large)) throw new Error(`${route} did not answer the body it was sent`);
    return { route, containers, small: smallRun.summary, large: largeRun.summary };
  };
  const echoes = await startEchoContainers(Math.max(...serialLengths));
  const rows: HopRow[] = [];
  try {
    const [first, second] = echoes as [ChildServer, ChildServer];
    rows.push(await measure("the container alone, no gateway", 0, `${first.url}/invocations`));
    const direct = await startGateway([`a=${first.url}`, `b=${second.url}`], ["--mode", "Direct"]);
    try {
      // Direct mode: TargetContainerHostname, as the SDKs send it.
      const headers = { "x-amzn-sagemaker-target-container-hostname": "a" };
      rows.push(await measure("gateway, Direct mode, 1 container", 1, `${direct.url}/endpoints/local-endpoint/invocations`, headers));
    } finally {
      await direct.stop();
    }
    for (const length of serialLengths) {
      const gateway = await startGateway(echoes.slice(0, length).map((echo, index) => `c${index + 1}=${echo.url}`));
      try {
        rows.push(await measure(`gateway, Serial, ${length} containers`, length, `${gateway.url}/endpoints/local-endpoint/invocations`));
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    await Promise.all(echoes.map((echo) => echo.stop()));
  }
  return rows;
}

async function measureOcr(requests: number, warmUp: number): Promise<PipelineBenchResults["ocr"]> {
  const page = await renderBenchPage();
  progress(`OCR in process: ${requests} calls`);
  const inProcess = await runNodeForJson<{ samples: number[]; body: string }>([...tsx, "bench/pipeline-ocr-in-process.ts", String(requests), String(warmUp)]);

  progress(`OCR, one container: ${requests} requests, /ping every ${pingIntervalMs} ms`);
  const port = await freePort();
  const single = await startNodeServer([cli, "serve", "--handlers", "examples/ocr/read-text.ts", "--model-dir", "examples/ocr/model", "--host", "127.0.0.1", "--port", String(port)], port, {}, 120_000);
  let oneContainer: { summary: LatencySummary; last: Buffer };
  let ping: LatencySummary;
  let idlePing: LatencySummary;
  try {
    // The same pings with nothing to read first: what the machine's own scheduling costs.
    const stopIdle = pingEvery(single.url, pingIntervalMs);
    await new Promise((resolve) => setTimeout(resolve, idlePingMs));
    idlePing = await stopIdle();
    const stopPinging = pingEvery(single.url, pingIntervalMs);
    oneContainer = await timeRequests(`${single.url}/invocations`, page, { "content-type": "image/png" }, requests, warmUp);
    ping = await stopPinging();
  } finally {
    await single.stop();
  }

  progress(`OCR, two containers: ${requests} requests`);
  const pipeline = await startGateway(["detection=examples/ocr/model", "recognition=examples/ocr/model"], ocrFlags, 180_000);
  let twoContainers: { summary: LatencySummary; last: Buffer };
  try {
    twoContainers = await timeRequests(`${pipeline.url}/endpoints/local-endpoint/invocations`, page, { "content-type": "image/png" }, requests, warmUp);
  } finally {
    await pipeline.stop();
  }

  const lines = (JSON.parse(inProcess.body) as { lines: { text: string }[] }).lines.map((line) => line.text);
  if (JSON.stringify(lines) !== JSON.stringify(benchPageLines)) throw new Error(`the in-process reader read ${JSON.stringify(lines)}, not ${JSON.stringify(benchPageLines)}`);
  if (oneContainer.last.toString("utf8") !== inProcess.body) throw new Error("the one-container reader answered otherwise than its steps in process");
  if (twoContainers.last.toString("utf8") !== inProcess.body) throw new Error("the two-container pipeline answered otherwise than the one-container reader");
  return { inProcess: summarize(inProcess.samples), oneContainer: oneContainer.summary, twoContainers: twoContainers.summary, ping, idlePing, lines };
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  build();
  const hops = await measureHops(positiveIntegerFromEnv("BENCH_HOP_REQUESTS", 300), positiveIntegerFromEnv("BENCH_HOP_WARMUP", 50));
  const ocr = await measureOcr(positiveIntegerFromEnv("BENCH_OCR_REQUESTS", 30), positiveIntegerFromEnv("BENCH_OCR_WARMUP", 5));
  const loadAverage = { start: loadAtStart, end: loadavg()[0] ?? Number.NaN };
  const results: PipelineBenchResults = { date: new Date().toISOString().slice(0, 10), machine: describeMachine(), loadAverage, smallBytes, largeBytes, hops, ocr };
  const file = join(repoRoot, "docs/benchmarks.md");
  writePipelineSection(file, results);
  progress(`wrote its section of ${file}`);
}

await main();
