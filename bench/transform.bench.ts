/**
 * `npm run bench:transform`: records per second of a batch transform over 1M iris rows with
 * MultiRecord and 6 MB mini-batches, against raw `session.run` on batches of the same size in
 * this process. Writes its section of docs/benchmarks.md (transform-report.ts) and prints it.
 *
 * 1. Draws the rows (examples/batch-iris/iris-rows.ts) into one CSV file.
 * 2. Starts the model server in this process with its defaults and `SAGEMAKER_BATCH=true`, as
 *    `sagemaker-byoc transform` does, and runs the job twice per concurrency (the container's
 *    suggestion, then 2), keeping the faster run; then against a handler that echoes each body
 *    (transform-echo.ts), which measures the job's own machinery without codec or model.
 * 3. Times `session.run` on float32 batches of the job's mini-batch size, with the session
 *    options of the server's worker.
 * 4. Times the worker's steps for one mini-batch (CSV decoding, tensor, run, CSV encoding) to say
 *    where the time goes.
 *
 * Knobs: `BENCH_TRANSFORM_ROWS` (1000000), `BENCH_TRANSFORM_RUNS` (2 per concurrency),
 * `BENCH_RAW_RUNS` (20).
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { irisRows, toCsv } from "../examples/batch-iris/iris-rows.js";
import { ContainerClient } from "../src/batch/container-client.js";
import { runTransformJob } from "../src/batch/job-runner.js";
import { resolveTransformJob } from "../src/batch/job.js";
import { MiniBatcher } from "../src/batch/mini-batch.js";
import { createSplitter } from "../src/batch/record-splitter.js";
import { csvCodec } from "../src/codecs/csv.js";
import { parseMediaType } from "../src/codecs/media-type.js";
import { bytesPerPayloadMb } from "../src/config/batch-settings.js";
import { loadConfig } from "../src/config/server-config.js";
import { startServer } from "../src/server.js";
import { writeTransformSection, renderTransformSection, type TransformBenchResults } from "./transform-report.js";
import { positiveIntegerFromEnv } from "./env-knobs.js";

const rowCount = positiveIntegerFromEnv("BENCH_TRANSFORM_ROWS", 1_000_000);
const repetitions = positiveIntegerFromEnv("BENCH_TRANSFORM_RUNS", 2);
const rawRuns = positiveIntegerFromEnv("BENCH_RAW_RUNS", 20);
const targetShare = 0.5;
const csv = { mediaType: parseMediaType("text/csv") };
const echoHandlers = fileURLToPath(new URL("./transform-echo.ts", import.meta.url));
const modelPath = fileURLToPath(new URL("../examples/iris/model/iris.onnx", import.meta.url));

function progress(message: string): void {
  process.stderr.write(`[bench:transform] ${message}\n`);
}

/** The best time of `times` calls of `action`, in ms. */
async function best(times: number, action: () => unknown): Promise<number> {
  let fastest = Infinity;
  for (let index = 0; index < times; index++) {
    const started = performance.now();
    await action();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

const work = await mkdtemp(join(tmpdir(), "byoc-bench-transform-"));
const config = loadConfig({ SAGEMAKER_BATCH: "true" });
try {
  progress(`drawing ${rowCount} iris rows`);
  const input = join(work, "input");
  await mkdir(input);
  const file = join(input, "flowers.csv");
  await writeFile(file, toCsv(irisRows(rowCount, 1)));
  const fileBytes = (await stat(file)).size;

  // The mini-batches the job will send: the first one's size is the floor's batch size.
  const splitter = createSplitter("Line", Infinity);
  const batcher = new MiniBatcher({ strategy: "MultiRecord", maxBytes: 6 * bytesPerPayloadMb, splitType: "Line", keepInputs: false });
  let firstBatch: Buffer | undefined;
  let firstBatchRows = 0;
  for (const record of splitter.push(await readFile(file))) {
    const batch = batcher.add(record);
    if (batch !== undefined && firstBatch === undefined) [firstBatch, firstBatchRows] = [batch.body, batch.records];
  }
  if (firstBatch === undefined) throw new Error("The file fits in one mini-batch: raise BENCH_TRANSFORM_ROWS");

  progress("starting the model server in this process");
  const server = await startServer({ port: 0, host: "127.0.0.1", modelDir: join(modelPath, ".."), logLevel: "warn" }, { SAGEMAKER_BATCH: "true" });
  const echo = await startServer({ port: 0, host: "127.0.0.1", modelDir: join(modelPath, ".."), handlersPath: echoHandlers, logLevel: "warn" }, { SAGEMAKER_BATCH: "true" });
  await Promise.all([server.loaded, echo.loaded]);
  const runs: TransformBenchResults["runs"][number][] = [];
  try {
    for (const [target, concurrency] of [
      [server, undefined],
      [server, 2],
      [echo, undefined],
    ] as const) {
      let fastest: (typeof runs)[number] | undefined;
      for (let repetition = 0; repetition < repetitions; repetition++) {
        const output = join(work, `output-${runs.length}-${repetition}`);
        const container = new ContainerClient(target.url);
        const job = resolveTransformJob({
          input: { dataType: "S3Prefix", uri: input },
          outputPath: output,
          contentType: "text/csv",
          accept: "text/csv",
          splitType: "Line",
          batchStrategy: "MultiRecord",
          maxPayloadInMb: 6,
          maxConcurrentTransforms: concurrency,
          assembleWith: "Line",
        });
        const started = performance.now();
        const summary = await runTransformJob(job, { container });
        const ms = performance.now() - started;
        container.close();
        if (summary.files.failed > 0 || summary.records.transformed !== rowCount) throw new Error(`The transform failed: ${JSON.stringify(summary)}`);
        const parameters = `MaxConcurrentTransforms ${summary.parameters.maxConcurrentTransforms}${concurrency === undefined ? " (the container's suggestion)" : ""}`;
        const label = target === echo ? `${parameters}, against a handler that echoes each body (no codec, no model)` : parameters;
        progress(`${label}: ${Math.round(ms)} ms`);
        const run = { label, concurrency: summary.parameters.maxConcurrentTransforms, ms, rowsPerSecond: (rowCount / ms) * 1000, echo: target === echo };
        if (fastest === undefined || run.ms < fastest.ms) fastest = run;
        await rm(output, { recursive: true, force: true });
      }
      runs.push(fastest as (typeof runs)[number]);
    }
  } finally {
    await Promise.all([server.close(), echo.close()]);
  }

  progress("timing session.run and the worker's steps on one mini-batch");
  const session = await InferenceSession.create(modelPath, {
    executionProviders: ["cpu"],
    intraOpNumThreads: config.onnx.intraOpNumThreads,
    graphOptimizationLevel: config.onnx.graphOptimizationLevel,
  });
  try {
    const decoded = (await csvCodec.decode?.(firstBatch, csv)) as number[][];
    const features = new Float32Array(firstBatchRows * 4);
    const toTensor = (): Tensor => {
      let offset = 0;
      for (const row of decoded) for (const value of row) features[offset++] = value;
      return new Tensor("float32", features, [firstBatchRows, 4]);
    };
    const feeds = { features: toTensor() };
    await session.run(feeds);
    const rawStarted = performance.now();
    let output: InferenceSession.OnnxValueMapType = {};
    for (let index = 0; index < rawRuns; index++) output = await session.run(feeds);
    const rawMs = performance.now() - rawStarted;
    const probabilities = output["probabilities"] as Tensor;
    const prediction = { dtype: "float32", shape: [...probabilities.dims], data: probabilities.data };
    const stages = [
      { stage: "text/csv decoding (csvCodec.decode)", msPerBatch: await best(3, () => csvCodec.decode?.(firstBatch, csv)) },
      { stage: "rows to a float32 tensor", msPerBatch: await best(3, toTensor) },
      { stage: "session.run", msPerBatch: await best(3, () => session.run(feeds)) },
      { stage: "text/csv encoding of the probabilities (csvCodec.encode)", msPerBatch: await best(3, () => csvCodec.encode?.(prediction, csv)) },
    ];
    const results: TransformBenchResults = {
      machine: {
        cpu: cpus()[0]?.model.trim() ?? "unknown",
        cores: cpus().length,
        node: process.version,
        onnxruntimeNode: (createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version,
        workers: config.workers,
        intraOpThreads: config.onnx.intraOpNumThreads,
      },
      rows: rowCount,
      fileBytes,
      rowsPerBatch: firstBatchRows,
      runs,
      raw: { runs: rawRuns, rowsPerSecond: ((firstBatchRows * rawRuns) / rawMs) * 1000, msPerBatch: rawMs / rawRuns },
      stages,
      targetShare,
    };
    writeTransformSection(results);
    console.log(renderTransformSection(results));
  } finally {
    await session.release();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
