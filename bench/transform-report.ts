import { fileURLToPath } from "node:url";
import { writeSection } from "./benchmarks-doc.js";

const benchmarksDoc = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));

/**
 * What `npm run bench:transform` measured.
 *
 * @example
 * ```ts
 * const results: TransformBenchResults = { machine, rows: 1_000_000, rowsPerBatch: 390_000, runs, raw, stages, targetShare: 0.5 };
 * ```
 */
export interface TransformBenchResults {
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly onnxruntimeNode: string; readonly workers: number; readonly intraOpThreads: number };
  readonly rows: number;
  readonly fileBytes: number;
  readonly rowsPerBatch: number;
  /** End-to-end transform runs: the best of the repetitions for each concurrency. */
  /** `echo`: against a handler that answers each body with itself, not the model. */
  readonly runs: readonly { readonly label: string; readonly concurrency: number; readonly ms: number; readonly rowsPerSecond: number; readonly echo: boolean }[];
  /** `session.run` on batches of `rowsPerBatch` rows, in this process. */
  readonly raw: { readonly runs: number; readonly rowsPerSecond: number; readonly msPerBatch: number };
  /** The worker's steps for one mini-batch, measured in this process. */
  readonly stages: readonly { readonly stage: string; readonly msPerBatch: number }[];
  readonly targetShare: number;
}

const count = new Intl.NumberFormat("en-US");
const percent = (share: number): string => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

/**
 * The markdown of the batch transform section (without its markers).
 *
 * @example
 * ```ts
 * console.log(renderTransformSection(results));
 * ```
 */
export function renderTransformSection(results: TransformBenchResults): string {
  const modelRuns = results.runs.filter((run) => !run.echo);
  const best = modelRuns.reduce((top, run) => (run.rowsPerSecond > top.rowsPerSecond ? run : top));
  const echo = results.runs.find((run) => run.echo);
  const share = best.rowsPerSecond / results.raw.rowsPerSecond;
  const met = share >= results.targetShare;
  const workerMs = results.stages.reduce((total, stage) => total + stage.msPerBatch, 0);
  const codecMs = results.stages.filter((stage) => stage.stage.includes("text/csv")).reduce((total, stage) => total + stage.msPerBatch, 0);
  const runMs = results.stages.find((stage) => stage.stage.startsWith("session.run"))?.msPerBatch ?? 0;
  const batches = Math.ceil(results.rows / results.rowsPerBatch);
  const { machine } = results;
  return [
    "## Batch transform",
    "",
    `Written by \`npm run bench:transform\` (bench/transform.bench.ts); do not edit by hand.`,
    "",
    `${count.format(results.rows)} iris rows drawn from the data set's distribution (examples/batch-iris), one ${(results.fileBytes / 1024 / 1024).toFixed(1)} MB CSV file, transformed by the \`transform\` job ` +
      `(SplitType Line, BatchStrategy MultiRecord, MaxPayloadInMB 6: ${count.format(results.rowsPerBatch)} rows per mini-batch, ${batches} requests; ContentType and Accept text/csv, AssembleWith Line) ` +
      `against the model server in the same process, with its defaults (${machine.workers} worker, ${machine.intraOpThreads} intra-op threads). ` +
      `The floor is \`session.run\` of examples/iris/model/iris.onnx in process, on float32 batches of the same ${count.format(results.rowsPerBatch)} rows, with the same session options.`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores (shared with other work while measured), Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}.`,
    "",
    "| run | rows/s | share of the floor |",
    "| --- | ---: | ---: |",
    `| \`session.run\` in process (the floor, ${results.raw.runs} runs) | ${count.format(Math.round(results.raw.rowsPerSecond))} | 100% |`,
    ...results.runs.map((run) => `| transform, ${run.label} (${count.format(Math.round(run.ms))} ms) | ${count.format(Math.round(run.rowsPerSecond))} | ${percent(run.rowsPerSecond / results.raw.rowsPerSecond)} |`),
    "",
    `Target: at least ${percent(results.targetShare)} of the floor. ${met ? `**Met**: ${percent(share)}.` : `**Not met**: ${percent(share)} at best.`}`,
    "",
    "Where a mini-batch's time goes in the worker (the same steps measured one by one in this process, best of three):",
    "",
    "| step, one mini-batch | ms | share |",
    "| --- | ---: | ---: |",
    ...results.stages.map((stage) => `| ${stage.stage} | ${stage.msPerBatch.toFixed(1)} | ${percent(stage.msPerBatch / workerMs)} |`),
    "",
    met
      ? "The transform's own work (reading, splitting, batching, HTTP, assembling) stays small next to the model."
      : `Why the target is missed: the iris model is a 4×3 matrix product, so \`session.run\` handles ${count.format(results.rowsPerBatch)} rows in ${runMs.toFixed(1)} ms, ` +
        `while the toolkit's text/csv codec (src/codecs/csv.ts) takes ${codecMs.toFixed(0)} ms to read them and write three probabilities per row back: ${percent(codecMs / workerMs)} of the worker's time per mini-batch. ` +
        (echo === undefined
          ? ""
          : `Without codec and model (a handler that answers each body with itself), the same job moves ${count.format(Math.round(echo.rowsPerSecond))} rows/s, ` +
            `${percent(echo.rowsPerSecond / results.raw.rowsPerSecond)} of the floor: the ceiling of the job's own machinery on this machine (reading, splitting, batching, HTTP, the record checks, the hand-over to the worker thread and back, writing). `) +
        "The rate of this job is the CSV codec's; a model that does more work per row, or a binary format (application/x-npy, or RecordIO with a handler), narrows the gap.",
  ].join("\n");
}

/**
 * Writes the section into docs/benchmarks.md, leaving the other sections as they are.
 *
 * @example
 * ```ts
 * writeTransformSection(results);
 * ```
 */
export function writeTransformSection(results: TransformBenchResults): void {
  writeSection(benchmarksDoc, "batch-transform", renderTransformSection(results));
}
