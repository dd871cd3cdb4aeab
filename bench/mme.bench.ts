/**
 * `npm run bench:mme` (`-- --quick` while developing): the multi-model endpoint end to end, and
 * its cost against a single-model endpoint in the same run. Writes its section of
 * docs/benchmarks.md, between `<!-- bench:mme -->` and `<!-- /bench:mme -->`.
 *
 * - S3: s3rver behind a SigV4 check (test/helpers/s3-server.ts), in this process, holding 200
 *   archives of the iris model under `s3://models/mme/`. Each carries a 256 KiB file besides the
 *   model: the container charges a model's copy at least the size of its files, and a tiny model
 *   has two (its worker's, and the HTTP thread's for its lone requests: docs/inline-lane.md), so
 *   each costs a known amount and the memory budget (`BYOC_MODEL_MEMORY_BUDGET_BYTES`) holds 20.
 * - The container: `node dist/cli.js serve --multi-model` in its own process, its log in a file.
 * - The gateway: `startAsyncGateway` with the multi-model front end, in this process, its log kept
 *   in memory so each request is known to be a hit or a cold invoke (a "model loaded" line).
 * - Traffic: Zipf-distributed (s = 1) over the 200 models, one request at a time, through the
 *   gateway's InvokeEndpoint with `X-Amzn-SageMaker-Target-Model`, as the SDKs send it.
 * - Warm throughput: 8 concurrent clients on 10 loaded models, through the gateway and straight
 *   to the container's `/models/{name}/invoke`, against a single-model container
 *   (`serve --model-dir examples/iris/model`) through a single-model gateway and straight to its
 *   `/invocations`. Both endpoints stay up and their runs alternate, in rounds
 *   (bench/mme-throughput.ts); the load generator runs in a process of its own
 *   (bench/mme-load.ts) and reads the CPU time of the container, of this process (the gateway's)
 *   and of itself over each run (bench/process-cpu.ts), for the table of CPU per request.
 *
 * Targets: a cold invoke within 50 ms p50; warm throughput within 10% of single-model mode's;
 * no errors. A missed target is reported with the figure and where the time went (the gateway's
 * and the container's load logs, the CPU per request of each process); the exit code is 1 only
 * when a request failed.
 *
 * Knobs: `--quick` (or `BENCH_QUICK=1`): 400 requests and 3 rounds of 2-second throughput runs,
 * instead of 4,000 and 5 rounds of 5 seconds; `BENCH_MME_REQUESTS`, `BENCH_MME_ROUNDS`,
 * `BENCH_MME_SECONDS` override them; `BENCH_SKIP_BUILD=1` uses the `dist/` already built.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { create as createTar } from "tar";
import { loadAsyncConfig } from "../src/config/async-config.js";
import { startAsyncGateway, type RunningAsyncGateway } from "../src/gateway/index.js";
import { HttpInvoker } from "../src/gateway/invoker.js";
import { HttpModelHost } from "../src/gateway/multi-model/model-host.js";
import { s3Credentials, startTestS3 } from "../test/helpers/s3-server.js";
import { describeLoadAverage } from "./machine.js";
import type { LoadBreakdown } from "./mme-load-breakdown.js";
import { loadGeneratorName } from "./mme-load.js";
import { measureThroughputPairs, type PairThroughput, type PathThroughput } from "./mme-throughput.js";
import { writeSection } from "./benchmarks-doc.js";
import { freePort, repoRoot, runNodeForJson, startNodeServer, type ChildServer } from "./processes.js";
import { summarize, type LatencySummary } from "./stats.js";
import { positiveIntegerFromEnv } from "./env-knobs.js";
import { seededRandom } from "./models/mlp.js";

const modelCount = 200;
const modelsInBudget = 20;
const paddingBytes = 256 * 1024;
const hotModels = 10;
/** The iris model is tiny: a copy on its worker and one on the HTTP thread (docs/inline-lane.md). */
const copiesPerModel = 2;
const concurrency = 8;
const zipfExponent = 1;
const targets = { coldP50Ms: 50, warmThroughputRatio: 0.9 } as const;
const irisModel = join(repoRoot, "examples", "iris", "model");
const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

interface LogLine {
  readonly msg: string;
  readonly [field: string]: unknown;
}

const quick = process.argv.includes("--quick") || process.env["BENCH_QUICK"] === "1";
const requestCount = positiveIntegerFromEnv("BENCH_MME_REQUESTS", quick ? 400 : 4_000);
const seconds = positiveIntegerFromEnv("BENCH_MME_SECONDS", quick ? 2 : 5);
const rounds = positiveIntegerFromEnv("BENCH_MME_ROUNDS", quick ? 3 : 5);
const warmUpSeconds = quick ? 3 : 5;
/** The processes of the CPU table, in its order. */
const measuredProcesses = ["container", "gateway", loadGeneratorName] as const;

/** Draws model indexes 0..n-1 with P(k) proportional to 1 / (k + 1)^s. */
function zipf(n: number, s: number, next: () => number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 1; k <= n; k++) cumulative.push((total += 1 / k ** s));
  return () => {
    const draw = next() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] as number) < draw) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

async function post(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  await response.arrayBuffer();
  return response.status;
}

function captureLines(): { lines: LogLine[]; log: Logger } {
  const lines: LogLine[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { lines, log };
}

async function modelArchive(scratch: string): Promise<Buffer> {
  const dir = join(scratch, "archive");
  await mkdir(dir);
  await writeFile(join(dir, "iris.onnx"), await readFile(join(irisModel, "iris.onnx")));
  await writeFile(join(dir, "padding.bin"), Buffer.alloc(paddingBytes));
  await createTar({ gzip: true, file: join(scratch, "model.tar.gz"), cwd: dir }, ["iris.onnx", "padding.bin"]);
  return readFile(join(scratch, "model.tar.gz"));
}

async function startGateway(config: Parameters<typeof loadAsyncConfig>[1], invocationsUrl: string, log: Logger, multiModelHost?: HttpModelHost): Promise<RunningAsyncGateway> {
  return startAsyncGateway({
    config: loadAsyncConfig({}, { port: 0, host: "127.0.0.1", logLevel: "silent", ...config }),
    invoker: new HttpInvoker(invocationsUrl),
    log,
    credentials: s3Credentials,
    ...(multiModelHost === undefined ? {} : { multiModel: { host: multiModelHost } }),
  });
}

async function containerLog(path: string): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial last line
    }
  }
  return lines;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : "-");
/** A path's CPU per request by process, and the three together (see the section's text). */
function cpuRow(name: string, path: PathThroughput): string {
  const perRequest = measuredProcesses.map((process) => path.cpuUsPerRequest[process] ?? 0);
  const together = perRequest.reduce((sum, us) => sum + us, 0);
  return `| ${name} | ${path.requestsPerSecond.toFixed(0)} | ${[...perRequest, together].map((us) => us.toFixed(0)).join(" | ")} | ${perRun(path)} |`;
}

/** Requests per ONNX run on the worker, or "-" when nothing ran batched (batching off, or every request inline). */
function perRun(path: PathThroughput): string {
  return Number.isFinite(path.requestsPerRun) ? path.requestsPerRun.toFixed(2) : "-";
}

/** The pair's ratio, then each round's in brackets. */
function ratioCell(pair: PairThroughput): string {
  return `${pair.ratio.toFixed(2)} (${pair.roundRatios.map((ratio) => ratio.toFixed(2)).join(", ")})`;
}

/** Why a pair's multi-model path fell short, from its figures: the extra CPU per request by process, and the batching each worker managed. */
function missedReason(pair: PairThroughput): string {
  const batching = Number.isFinite(pair.multiModel.requestsPerRun) && Number.isFinite(pair.singleModel.requestsPerRun);
  return `the multi-model runs cost ${cpuDifference(pair)}${
    batching
      ? `, and their worker ran ${perRun(pair.multiModel)} requests per ONNX run against ${perRun(pair.singleModel)} (dynamic batching merges only the waiting requests of one model, and ${concurrency} requests in flight over ${hotModels} models seldom share one)`
      : ""
  }`;
}

/** What each process spent per request on the multi-model path beyond the single-model one, from the CPU table. */
function cpuDifference(pair: PairThroughput): string {
  const signed = (value: number, unit: string): string => `${value < 0 ? "−" : "+"}${Math.abs(value).toFixed(0)}${unit}`;
  const extra = measuredProcesses.map((process) => (pair.multiModel.cpuUsPerRequest[process] ?? 0) - (pair.singleModel.cpuUsPerRequest[process] ?? 0));
  const single = measuredProcesses.reduce((sum, process) => sum + (pair.singleModel.cpuUsPerRequest[process] ?? 0), 0);
  const together = extra.reduce((sum, us) => sum + us, 0);
  return `${measuredProcesses.map((process, index) => `${process} ${signed(extra[index] as number, " µs")}`).join(", ")}; together ${signed(together, " µs")} (${signed((together / single) * 100, "%")})`;
}

const row = (name: string, summary: LatencySummary): string => `| ${name} | ${summary.count} | ${ms(summary.p50)} | ${ms(summary.p99)} | ${ms(summary.mean)} |`;

async function main(): Promise<void> {
  if (process.env["BENCH_SKIP_BUILD"] !== "1") {
    const built = spawnSync(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: repoRoot, stdio: "inherit" });
    if (built.status !== 0) throw new Error("tsc failed");
  }
  const loadBefore = loadavg()[0] as number;
  const scratch = await mkdtemp(join(tmpdir(), "byoc-bench-mme-"));
  const children: ChildServer[] = [];
  const gateways: RunningAsyncGateway[] = [];
  const s3 = await startTestS3("models");
  try {
    const archive = await modelArchive(scratch);
    for (let index = 0; index < modelCount; index++) await s3.put(`mme/m${index}.tar.gz`, archive);
    const modelsRoot = join(scratch, "models");
    await mkdir(modelsRoot);
    // Charged at least the size of its files (the archive's content), each model costs the same: room for 20, not 21.
    const charge = paddingBytes + (await readFile(join(irisModel, "iris.onnx"))).length;
    const budget = Math.floor((modelsInBudget + 0.5) * copiesPerModel * charge);

    const mmePort = await freePort();
    const mmeLogPath = join(scratch, "mme-container.log");
    // The budget has no flag.
    const container = await startNodeServer(
      ["dist/cli.js", "serve", "--multi-model", "--models-root", modelsRoot, "--port", String(mmePort), "--host", "127.0.0.1"],
      mmePort,
      { BYOC_MODEL_MEMORY_BUDGET_BYTES: String(budget) },
      30_000,
      mmeLogPath,
    );
    children.push(container);
    const gatewayLog = captureLines();
    const gateway = await startGateway(
      { endpointName: "bench-mme", multiModel: { modelDataUrl: "s3://models/mme/", cacheDir: modelsRoot }, s3Endpoint: s3.endpoint, queueDir: join(scratch, "queue-mme") },
      `${container.url}/invocations`,
      gatewayLog.log,
      new HttpModelHost(container.url),
    );
    gateways.push(gateway);
    const invokeUrl = `${gateway.url}/endpoints/bench-mme/invocations`;

    // Zipf traffic, one request at a time.
    const draw = zipf(modelCount, zipfExponent, seededRandom(12));
    const warm: number[] = [];
    const coldFromS3: number[] = [];
    const coldFromDisk: number[] = [];
    let errors = 0;
    for (let request = 0; request < requestCount; request++) {
      const target = `m${draw()}.tar.gz`;
      const linesBefore = gatewayLog.lines.length;
      const started = performance.now();
      const status = await post(invokeUrl, { "x-amzn-sagemaker-target-model": target }).catch(() => 0);
      const elapsed = performance.now() - started;
      if (status !== 200) {
        errors++;
        continue;
      }
      const loaded = gatewayLog.lines.slice(linesBefore).find((line) => line.msg === "model loaded" && line["targetModel"] === target);
      if (loaded === undefined) warm.push(elapsed);
      else if (loaded["cached"] === true) coldFromDisk.push(elapsed);
      else coldFromS3.push(elapsed);
    }
    const held = ((await (await fetch(`${container.url}/models`)).json()) as { models: unknown[] }).models.length;

    // Warm throughput on 10 loaded models, against a single-model endpoint: both stay up, and their runs alternate.
    const hot = Array.from({ length: hotModels }, (_, index) => `m${index}.tar.gz`);
    for (const target of hot) await post(invokeUrl, { "x-amzn-sagemaker-target-model": target });
    const nameOf = new Map(gatewayLog.lines.filter((line) => line.msg === "model loaded").map((line) => [line["targetModel"] as string, line["model"] as string]));
    const singlePort = await freePort();
    const single = await startNodeServer(["dist/cli.js", "serve", "--model-dir", irisModel, "--port", String(singlePort), "--host", "127.0.0.1"], singlePort);
    children.push(single);
    const singleGateway = await startGateway(
      { endpointName: "bench-single", s3OutputPath: "s3://models/output", s3Endpoint: s3.endpoint, queueDir: join(scratch, "queue-single") },
      `${single.url}/invocations`,
      captureLines().log,
    );
    gateways.push(singleGateway);
    const mmePids = { container: container.pid, gateway: process.pid };
    const singlePids = { container: single.pid, gateway: process.pid };
    const throughput = await measureThroughputPairs(
      [
        [
          { url: gateway.url, targets: hot.map((target) => ({ path: "/endpoints/bench-mme/invocations", headers: { "x-amzn-sagemaker-target-model": target } })), pids: mmePids, metricsUrl: `${container.url}/metrics` },
          { url: singleGateway.url, targets: [{ path: "/endpoints/bench-single/invocations" }], pids: singlePids, metricsUrl: `${single.url}/metrics` },
        ],
        [
          { url: container.url, targets: hot.map((target) => ({ path: `/models/${nameOf.get(target) ?? ""}/invoke` })), pids: mmePids, metricsUrl: `${container.url}/metrics` },
          { url: single.url, targets: [{ path: "/invocations" }], pids: singlePids, metricsUrl: `${single.url}/metrics` },
        ],
      ],
      { rounds, seconds, warmUpSeconds, connections: concurrency, body, contentType: "application/json" },
    );
    const [throughGateway, direct] = throughput.pairs as [PairThroughput, PairThroughput];

    // Where a cold invoke's time went: the gateway's load (S3 and POST /models) and the container's own load.
    const gatewayLoads = gatewayLog.lines.filter((line) => line.msg === "model loaded");
    const containerLines = await containerLog(mmeLogPath);
    const registryLines = containerLines.filter((line) => line.msg === "model loaded into the multi-model registry");
    const registryLoads = registryLines.map((line) => Number(line["loadMs"]));
    const inlineLoads = registryLines.filter((line) => line["inline"] === true).length;
    const chargedMedian = summarize(registryLines.map((line) => Number(line["memoryBytes"]))).p50;
    const inlineLoadMs = summarize(registryLines.map((line) => Number(line["inlineLoadMs"])));
    const evictions = containerLines.filter((line) => line.msg === "model unloaded").length;
    // Each model runs on one worker: how the hot models were spread decides the multi-model throughput.
    const workerOf = new Map<string, number>();
    for (const line of containerLines) if (line.msg === "model loaded" && Array.isArray(line["workers"])) workerOf.set(line["model"] as string, (line["workers"] as number[])[0] as number);
    const spread = new Map<number, number>();
    for (const target of hot) {
      const worker = workerOf.get(nameOf.get(target) ?? "");
      if (worker !== undefined) spread.set(worker, (spread.get(worker) ?? 0) + 1);
    }
    const spreadText = [...spread.entries()].sort(([a], [b]) => a - b).map(([worker, count]) => `${count} on worker ${worker}`).join(", ");
    const fetches = gatewayLog.lines.filter((line) => line.msg === "model fetched from S3 into the cache").map((line) => Number(line["ms"]));

    const cold = [...coldFromS3, ...coldFromDisk];
    const summaries = { warm: summarize(warm), cold: summarize(cold), coldFromS3: summarize(coldFromS3), coldFromDisk: summarize(coldFromDisk) };
    const served = warm.length + cold.length;
    const hitRatio = warm.length / Math.max(1, served);
    const totalErrors = errors + throughput.pairs.reduce((sum, pair) => sum + pair.multiModel.errors + pair.singleModel.errors, 0);
    const ratioGateway = throughGateway.ratio;
    const ratioDirect = direct.ratio;
    const workers = Number(containerLines.find((line) => line.msg === "listening")?.["workers"]);
    const share = (fraction: number): string => `${(fraction * 100).toFixed(0)}%`;
    const comparedPaths: readonly (readonly [string, PairThroughput])[] = [
      ["through the gateway", throughGateway],
      ["straight to the container", direct],
    ];
    const verdict = (met: boolean): string => (met ? "**met**" : "**missed**");
    const loadAfter = loadavg()[0] as number;
    const cores = availableParallelism();
    const gatewayLoadMs = summarize(gatewayLoads.filter((line) => line["cached"] === true).map((line) => Number(line["ms"])));
    const registryLoadMs = summarize(registryLoads);
    const fetchMs = summarize(fetches);
    const breakdown = await runNodeForJson<LoadBreakdown>(["--import", "tsx", "bench/mme-load-breakdown.ts", irisModel, quick ? "20" : "100"]);
    const phase = (summary: LatencySummary): string => `${ms(summary.p50)} / ${ms(summary.p99)}`;

    const lines = [
      "## Multi-model endpoints",
      "",
      `Written by \`npm run bench:mme${quick ? " -- --quick" : ""}\` (bench/mme.bench.ts) on ${new Date().toISOString().slice(0, 10)}${quick ? ", quick mode (a development run, not the reference figures)" : ""}: ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cores} cores, Node ${process.version}, linux ${release()}; ${describeLoadAverage(loadBefore, loadAfter, cores)}.`,
      "",
      `${modelCount} iris models (each archive: the 1 kB model and a ${paddingBytes / 1024} KiB file, so each copy of a model is charged ${charge} bytes, and a model has ${copiesPerModel}: its worker's and the HTTP thread's, docs/inline-lane.md; ${inlineLoads} of ${registryLines.length} loads opened one on the HTTP thread, and the median charge was ${chargedMedian} bytes), a container budget of ${budget} bytes that holds ${modelsInBudget} such models, the container (\`serve --multi-model\`, ${workers} worker${workers === 1 ? "" : "s"}, the default on ${cores} cores) in its own process, the gateway and S3 (s3rver) in the benchmark's. ${requestCount} requests drawn from a Zipf distribution (s = ${zipfExponent}, seeded), one at a time, through the gateway's InvokeEndpoint with a TargetModel.`,
      "",
      "| invocations | count | p50 ms | p99 ms | mean ms |",
      "| --- | --- | --- | --- | --- |",
      row("warm (model loaded)", summaries.warm),
      row("cold: load + first inference (all)", summaries.cold),
      row("cold, model on the gateway's disk", summaries.coldFromDisk),
      row("cold, model fetched from S3 first", summaries.coldFromS3),
      "",
      `Hit ratio ${(hitRatio * 100).toFixed(1)}% (${warm.length} of ${served}); the container evicted ${evictions} models and held ${held} at the end; errors: ${totalErrors}.`,
      "",
      `Warm throughput, ${concurrency} concurrent clients (${hotModels} loaded models in turn for the multi-model endpoint), requests per second. Both endpoints stay up and their runs alternate (bench/mme-throughput.ts): after an unmeasured ${warmUpSeconds} s run on each path, ${rounds} rounds of ${seconds} s per path, the multi-model run first in one round and second in the next; the figures are the medians of the rounds, the ratio the median of the rounds' ratios (each round's in brackets).`,
      "",
      "| path | multi-model | single-model | ratio |",
      "| --- | --- | --- | --- |",
      `| through the gateway (InvokeEndpoint) | ${throughGateway.multiModel.requestsPerSecond.toFixed(0)} | ${throughGateway.singleModel.requestsPerSecond.toFixed(0)} | ${ratioCell(throughGateway)} |`,
      `| straight to the container (\`/models/{name}/invoke\`, \`/invocations\`) | ${direct.multiModel.requestsPerSecond.toFixed(0)} | ${direct.singleModel.requestsPerSecond.toFixed(0)} | ${ratioCell(direct)} |`,
      "",
      `CPU per request (µs) by process in those runs: each process's CPU time over its rounds (user + system, all its threads, from \`/proc/<pid>/stat\`), divided by the requests answered. The load generator (bench/mme-load.ts) runs in a process of its own, the gateway in the benchmark's, with S3 (idle by then). The last column is from the container's \`byoc_batch_size_requests\` (docs/metrics.md), read around each run: dynamic batching merges the requests of one model that wait together into one run. During the runs these processes used ${share(throughput.machineShare.measured)} of the machine's CPU time, other work on the machine ${share(throughput.machineShare.others)} (from \`/proc/stat\`), and ${share(throughput.machineShare.idle)} was idle.`,
      "",
      "| path | req/s | container | gateway | load generator | together | requests per ONNX run on the worker |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      cpuRow("multi-model, through the gateway", throughGateway.multiModel),
      cpuRow("single-model, through the gateway", throughGateway.singleModel),
      cpuRow("multi-model, straight to the container", direct.multiModel),
      cpuRow("single-model, straight to the container", direct.singleModel),
      "",
      `A multi-model endpoint loads each model on one worker (docs/multi-model.md); the ${hotModels} models of the throughput runs sat ${spreadText}. A single-model endpoint loads its model on every worker.`,
      "",
      "Targets:",
      "",
      `- cold invoke within ${targets.coldP50Ms} ms p50: ${verdict(summaries.cold.p50 <= targets.coldP50Ms)} (${ms(summaries.cold.p50)} ms; ${ms(summaries.coldFromDisk.p50)} ms with the model on disk).`,
      `- warm throughput within 10% of single-model mode's: ${verdict(ratioGateway >= targets.warmThroughputRatio)} through the gateway (${(ratioGateway * 100).toFixed(0)}%), ${verdict(ratioDirect >= targets.warmThroughputRatio)} straight to the container (${(ratioDirect * 100).toFixed(0)}%).${
        Math.min(ratioGateway, ratioDirect) < targets.warmThroughputRatio
          ? ` Against the single-model runs, per request: ${comparedPaths
              .filter(([, pair]) => pair.ratio < targets.warmThroughputRatio)
              .map(([path, pair]) => `${path}, ${missedReason(pair)}`)
              .join("; ")}. Other work on the machine took ${share(throughput.machineShare.others)} of its CPU time meanwhile.`
          : ""
      }`,
      `- no errors: ${verdict(totalErrors === 0)} (${totalErrors}).`,
      "",
      `Where a cold invoke's time goes (p50 / p99, ms): the gateway's load of a model on disk (\`POST /models\` and its answer) ${ms(gatewayLoadMs.p50)} / ${ms(gatewayLoadMs.p99)}, of which the container's own load (the worker's \`loadMs\`: handlers, ONNX session, warm-up, memory measurement) ${ms(registryLoadMs.p50)} / ${ms(registryLoadMs.p99)}; a fetch from S3 with extraction ${ms(fetchMs.p50)} / ${ms(fetchMs.p99)}; the first inference is the rest, about a warm invoke (${ms(summaries.warm.p50)}). The container's load beyond the worker's \`loadMs\` is its making room first (unloading the least recently used models: the budget is full in steady state), finding the handlers and sizing the files, and loading and timing the model's copy on the HTTP thread (${ms(inlineLoadMs.p50)} / ${ms(inlineLoadMs.p99)}).`,
      "",
      `Inside the worker's load, measured phase by phase in a fresh process (bench/mme-load-breakdown.ts, p50 / p99, ms): the two full garbage collections before the memory measurement ${phase(breakdown.garbageCollectionMs)}; the ONNX session's creation ${phase(breakdown.sessionMs)}; its warm-up run ${phase(breakdown.warmUpMs)}; its release at unload ${phase(breakdown.releaseMs)}.`,
    ];
    const section = lines.join("\n");
    writeSection(join(repoRoot, "docs", "benchmarks.md"), "mme", section);
    console.log(section);
    if (totalErrors > 0) process.exitCode = 1;
  } finally {
    for (const gateway of gateways) await gateway.close();
    for (const child of children) await child.stop();
    await s3.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
