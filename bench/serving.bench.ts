/**
 * `npm run bench`: the serving benchmark of issue #11. Three models (iris, the generated MLP,
 * PaddleOCR's detector) × request kinds (JSON with 1 and 64 rows, `.npy`, PNG) × concurrency 1,
 * 8 and 64 × contenders, one server at a time, with the load generator in its own process:
 *
 * - the floor: the request handled in-process, no HTTP (bench/floor.ts), `session.run` timed alone too;
 * - a minimal `node:http` server calling one session on its main thread (bench/minimal-server.ts);
 * - the toolkit, `node dist/cli.js serve`, with its defaults and any variant given, and in the
 *   single-row cells with dynamic batching the other way from its default (the batching target);
 * - nginx → gunicorn → Flask with numpy, built from Debian packages (bench/python/), for the
 *   dense models.
 *
 * All ONNX sessions get the thread settings the toolkit derives for itself. During each c=8
 * window the load generator reads the CPU time of every thread of the server and of itself
 * (bench/thread-cpu.ts): the report shows it per request by kind of thread, and under the
 * targets, each missed one gets a line written from the run's figures that says where its time
 * went (bench/why-missed.ts). Writes bench/results/serving.json, and the `serving` section of
 * docs/benchmarks.md after a full run (or with `--write-docs`); prints the section. Exits 1 when
 * a request to any contender failed, a server did not start or answered differently from the
 * floor; a missed target does not change the exit code.
 *
 * Flags:
 * - `--quick`: the cells the targets need, with short windows (under 2 minutes; what CI calls);
 * - `--models iris,mlp`: only these models;
 * - `--seconds 3`: each measured window this long instead of the mode's (warm-up a quarter of it);
 * - `--toolkit 'name:VAR=value,VAR=value'` (repeatable): one more toolkit row with these
 *   environment variables, e.g. `--toolkit 'toolkit+batching:BYOC_BATCH_MAX_SIZE=64'`;
 * - `--skip-build`: bench the `dist/` already built instead of running `tsc` first;
 * - `--write-docs` / `--no-docs`: write docs/benchmarks.md or not, whatever the mode.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/server-config.js";
import { prepareAssets } from "./assets.js";
import { writeSection } from "./benchmarks-doc.js";
import { describeSessionOptions, describeToolkit, minimalContender, pythonContender, toolkitContender, type ToolkitVariant } from "./contenders.js";
import type { FloorResult } from "./floor.js";
import { describeMachine, pythonStackVersions } from "./machine.js";
import { measureServer } from "./measure.js";
import { runPlan, type RunPlan } from "./plan.js";
import { repoRoot, runNodeForJson } from "./processes.js";
import {
  evaluateTargets,
  failedIn,
  findProblems,
  formatMarkdown,
  toolkitName,
  type BatchingPair,
  type MemoryResult,
  type RequestResults,
  type ServingResults,
} from "./report.js";
import { explainMisses } from "./why-missed.js";
import { benchModel, benchModels, benchRequest, type ModelId } from "./workloads.js";

/** Toolkit rows measured in every cell; `--toolkit` adds more. */
const toolkitVariants: readonly ToolkitVariant[] = [{ name: toolkitName, env: {} }];

/**
 * The toolkit with dynamic batching the other way from `variant`, and which of the two batches:
 * the pair the batching target compares.
 */
function batchingContrast(variant: ToolkitVariant): { contrast: ToolkitVariant; pair: BatchingPair } {
  const batches = loadConfig({ ...process.env, ...variant.env }).batching.maxBatchSize > 1;
  if (batches) {
    const contrast = { name: `${variant.name}, batching off`, env: { ...variant.env, BYOC_BATCH_MAX_SIZE: "1" } };
    return { contrast, pair: { batched: variant.name, unbatched: contrast.name } };
  }
  const contrast = { name: `${variant.name}, batching on`, env: { ...variant.env, BYOC_BATCH_MAX_SIZE: "32" } };
  return { contrast, pair: { batched: contrast.name, unbatched: variant.name } };
}

const tsx = ["--import", "tsx"];

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function parseVariant(text: string): ToolkitVariant {
  const colon = text.indexOf(":");
  const name = colon < 0 ? text : text.slice(0, colon);
  const assignments = colon < 0 ? [] : text.slice(colon + 1).split(",").filter((entry) => entry.trim() !== "");
  const env = Object.fromEntries(
    assignments.map((assignment) => {
      const equals = assignment.indexOf("=");
      if (equals <= 0) throw new Error(`--toolkit ${JSON.stringify(text)}: expected name:VAR=value,VAR=value`);
      return [assignment.slice(0, equals).trim(), assignment.slice(equals + 1).trim()];
    }),
  );
  if (name.trim() === "") throw new Error(`--toolkit ${JSON.stringify(text)}: the row needs a name before the colon`);
  return { name: name.trim(), env };
}

function withSeconds(plan: RunPlan, seconds: string | undefined): RunPlan {
  if (seconds === undefined) return plan;
  const window = Number(seconds);
  if (!(window > 0)) throw new Error(`--seconds ${JSON.stringify(seconds)}: expected a positive number`);
  return { ...plan, sizes: { ...plan.sizes, seconds: window, warmUpSeconds: window / 4 } };
}

function installBenchDeps(): void {
  progress("checking the Debian packages of the Python contender and the OCR page (scripts/install-bench-deps.sh)");
  const result = spawnSync("sh", [join(repoRoot, "scripts/install-bench-deps.sh")], { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) progress("scripts/install-bench-deps.sh failed: the contenders that need those packages will fail");
}

/** Builds dist/ with the local TypeScript, so the toolkit measured is the source in the tree. */
function build(skip: boolean): void {
  if (skip) {
    if (!existsSync(join(repoRoot, "dist/cli.js"))) throw new Error("--skip-build but dist/cli.js is missing: run `npm run build` first");
    progress("--skip-build: benching the dist/ already built");
    return;
  }
  progress("building dist/ (tsc -p tsconfig.json)");
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.json failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
}

async function measureFloor(plan: RunPlan, model: ModelId, request: string): Promise<FloorResult | { error: string }> {
  progress(`${model} ${request}: in-process floor, ${plan.floorSeconds} s`);
  try {
    return await runNodeForJson<FloorResult>([...tsx, "bench/floor.ts", model, request, String(plan.floorSeconds), String(plan.floorSeconds / 4)]);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Resident memory of each model in the toolkit with 1 and with one worker per core. */
async function measureMemory(plan: RunPlan, variant: ToolkitVariant): Promise<MemoryResult[]> {
  const models = [...new Set(plan.cells.map((cell) => cell.model))];
  const workerCounts = [...new Set([1, availableParallelism()])];
  const results: MemoryResult[] = [];
  for (const id of models) {
    const model = benchModel(id);
    const request = benchRequest(model, plan.cells.find((cell) => cell.model === id && cell.request !== "json-1")?.request ?? model.requests[0]?.kind ?? "json-1");
    for (const workers of workerCounts) {
      const contender = toolkitContender({ name: `${variant.name}, ${workers} worker${workers === 1 ? "" : "s"}`, env: { ...variant.env, SAGEMAKER_MODEL_SERVER_WORKERS: String(workers) } });
      const cell = await measureServer(contender, model, request, [8], { seconds: 2, warmUpSeconds: 0.5, pings: 0 }, (message) =>
        progress(`memory: ${message}`),
      );
      const failed = cell.error ?? (failedIn(cell) > 0 ? `${failedIn(cell)} requests failed` : undefined);
      results.push({ model: id, request: request.kind, workers, ...(cell.memory === undefined ? {} : { memory: cell.memory }), ...(failed === undefined ? {} : { error: failed }) });
    }
  }
  return results;
}

async function main(): Promise<number> {
  const started = performance.now();
  // Before anything of the run's own: what else the machine is doing.
  const loadAverageBefore = loadavg()[0] ?? Number.NaN;
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      models: { type: "string" },
      seconds: { type: "string" },
      toolkit: { type: "string", multiple: true, default: [] },
      "skip-build": { type: "boolean", default: false },
      "write-docs": { type: "boolean" },
      "no-docs": { type: "boolean" },
    },
  });
  const models = values.models?.split(",").map((id) => benchModel(id.trim() as ModelId).id);
  const plan = withSeconds(runPlan(values.quick ? "quick" : "full", models), values.seconds);
  const variants = [...toolkitVariants, ...values.toolkit.map(parseVariant)];
  const writeDocs = values["no-docs"] === true ? false : (values["write-docs"] ?? plan.mode === "full");

  installBenchDeps();
  const machine = describeMachine();
  const pythonVersions = pythonStackVersions();
  build(values["skip-build"]);
  progress("writing the MLP, the numpy weights, the OCR page and the request bodies (bench/results/assets/)");
  await prepareAssets([...new Set(plan.cells.map((cell) => cell.model))]);

  const [defaultVariant = { name: toolkitName, env: {} }] = variants;
  const { contrast, pair } = batchingContrast(defaultVariant);
  const minimal = minimalContender(defaultVariant.env);
  const toolkits = variants.map((variant) => toolkitContender(variant));
  const contrastToolkit = toolkitContender(contrast);
  const python = pythonContender();
  const cells: RequestResults[] = [];
  for (const planned of plan.cells) {
    const model = benchModel(planned.model);
    const request = benchRequest(model, planned.request);
    const floor = await measureFloor(plan, planned.model, planned.request);
    const servers = [];
    const contenders = [minimal, ...toolkits, ...(planned.batchingContrast === true ? [contrastToolkit] : []), python];
    for (const contender of contenders) {
      if (planned.contenders !== undefined && !planned.contenders.includes(contender.kind)) continue;
      servers.push(await measureServer(contender, model, request, planned.concurrencies, plan.sizes, progress));
    }
    cells.push({ model: planned.model, request: planned.request, label: request.label, concurrencies: planned.concurrencies, floor, servers });
  }
  const memory = plan.memory ? await measureMemory(plan, defaultVariant) : [];

  const problems = [...findProblems(cells), ...memory.flatMap((entry) => (entry.error === undefined ? [] : [`memory ${entry.model} ${entry.workers} workers: ${entry.error}`]))];
  const failedRequests = cells.reduce((sum, cell) => sum + cell.servers.reduce((inner, server) => inner + failedIn(server), 0), 0);
  const measuredModels = benchModels.filter((model) => plan.cells.some((cell) => cell.model === model.id));
  const results: ServingResults = {
    date: new Date().toISOString(),
    mode: plan.mode,
    durationSeconds: (performance.now() - started) / 1000,
    machine,
    python: pythonVersions,
    loadAverage: { before: loadAverageBefore, after: loadavg()[0] ?? Number.NaN },
    sizes: plan.sizes,
    floorSeconds: plan.floorSeconds,
    contenders: [
      { name: "floor (in-process)", settings: `the minimal server's pipeline called in a loop on the main thread, no HTTP; ${describeSessionOptions(defaultVariant.env)}` },
      ...[minimal, ...toolkits, contrastToolkit, python].map((contender) => ({ name: contender.name, settings: contender.settings })),
    ],
    models: measuredModels.map((model) => ({
      id: model.id,
      title: model.title,
      ...(model.python === true ? {} : { pythonSkipped: model.python.skipped }),
      ...(model.notApplicable === undefined ? {} : { notApplicable: model.notApplicable }),
    })),
    cells,
    memory,
    targets: explainMisses(evaluateTargets(cells, pair), cells, pair),
    failedRequests,
    problems,
  };
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/serving.json"), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = formatMarkdown(results);
  console.log(markdown);
  progress("results written to bench/results/serving.json");
  if (writeDocs) {
    writeSection(join(repoRoot, "docs/benchmarks.md"), "serving", markdown);
    progress("docs/benchmarks.md: serving section written");
  }
  progress(`toolkit settings: ${describeToolkit(defaultVariant.env)}`);
  if (failedRequests === 0 && problems.length === 0) return 0;
  progress(`${failedRequests} requests failed; ${problems.length} problems: exit 1`);
  return 1;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
