/**
 * `npm run bench:profile`: where the toolkit's time per request goes, model by model, at c=8.
 * For each cell, two runs of the toolkit (`node dist/cli.js serve`, built first):
 *
 * 1. without a profiler: CPU time of every thread of the server process (from
 *    /proc/<pid>/task/<tid>/schedstat) over the measured window, per request and as a share of
 *    the cores, beside the load generator's own;
 * 2. under `node --cpu-prof`: the functions with the most self time on each JavaScript thread
 *    (the HTTP thread and each worker), counting only the samples inside the measured window.
 *
 * Prints the report and writes it to bench/results/profile.md; the `.cpuprofile` files stay in
 * bench/results/profiles/<model>-<request>/ for Chrome DevTools.
 *
 * Flags: `--cells iris:json-1,mlp:json-64` (default: iris and the MLP with one JSON row, the
 * MLP with 64, the OCR detector with a PNG), `--seconds 10`, `--top 12`, `--env VAR=value`
 * (repeatable: toolkit settings), `--skip-build`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/server-config.js";
import { prepareAssets } from "./assets.js";
import { describeToolkit, toolkitContender } from "./contenders.js";
import { summarizeProfile, type CpuProfile } from "./cpu-profile.js";
import type { LoadOptions, LoadRun } from "./load.js";
import { rate } from "./markdown.js";
import { repoRoot, runNodeForJson, type ChildServer } from "./processes.js";
import { describeThread } from "./thread-cpu.js";
import { benchModel, benchRequest, requestBodyPath, type BenchModel, type ModelId, type RequestKind, type RequestSpec } from "./workloads.js";

const connections = 8;
const warmUpSeconds = 2;
const tsx = ["--import", "tsx"];

function progress(message: string): void {
  process.stderr.write(`[profile] ${message}\n`);
}

async function load(server: ChildServer, model: BenchModel, request: RequestSpec, seconds: number, warmUp: number, cpuOf?: readonly number[]): Promise<LoadRun> {
  const options: LoadOptions = {
    mode: "closed-loop",
    url: server.url,
    bodyFile: requestBodyPath(model.id, request.kind),
    contentType: request.contentType,
    accept: request.accept,
    connections,
    seconds,
    warmUpSeconds: warmUp,
    ...(cpuOf === undefined ? {} : { cpuOf }),
  };
  return runNodeForJson<LoadRun>([...tsx, "bench/load.ts", JSON.stringify(options)]);
}

async function cpuSplit(model: BenchModel, request: RequestSpec, seconds: number, env: Record<string, string>): Promise<string[]> {
  const { server } = await toolkitContender({ name: "toolkit", env }).start(model, request);
  const { workers } = loadConfig({ ...process.env, ...env });
  try {
    const run = await load(server, model, request, seconds, warmUpSeconds, [server.pid]);
    if (run.cpu === undefined) throw new Error("no CPU time by thread: /proc/<pid>/task is Linux only");
    const threads = run.cpu.server;
    const spent = threads.filter((thread) => thread.cpuMs >= 1).sort((a, b) => b.cpuMs - a.cpuMs);
    const loadGeneratorMs = run.cpu.loadGenerator.reduce((sum, thread) => sum + thread.cpuMs, 0);
    const capacityMs = availableParallelism() * run.seconds * 1000;
    const line = (name: string, ms: number) =>
      `| ${name} | ${ms.toFixed(0)} | ${((ms * 1000) / run.responses).toFixed(1)} | ${((ms / capacityMs) * 100).toFixed(1)}% |`;
    const serverMs = threads.reduce((sum, thread) => sum + thread.cpuMs, 0);
    return [
      `Without a profiler: ${rate(run.requestsPerSecond)} req/s, p50 ${run.latency.p50.toFixed(3)} ms, ` +
        `p99 ${run.latency.p99.toFixed(3)} ms over ${run.seconds.toFixed(1)} s (${run.responses} answers). CPU time by thread ` +
        `(share of ${availableParallelism()} cores × the window; threads under 1 ms left out):`,
      "",
      "| thread | CPU ms | µs per request | share |",
      "| --- | ---: | ---: | ---: |",
      ...spent.map((thread) => line(describeThread(thread, threads, server.pid, workers), thread.cpuMs)),
      line("**server process, all threads**", serverMs),
      line("load generator (bench/load.ts), all threads", loadGeneratorMs),
      "",
    ];
  } finally {
    await server.stop();
  }
}

async function topFunctions(model: BenchModel, request: RequestSpec, seconds: number, top: number, env: Record<string, string>): Promise<string[]> {
  const dir = join(repoRoot, "bench/results/profiles", `${model.id}-${request.kind}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { server } = await toolkitContender({ name: "toolkit", env }, ["--cpu-prof", `--cpu-prof-dir=${dir}`]).start(model, request);
  let run: LoadRun;
  try {
    await load(server, model, request, warmUpSeconds, 0);
    run = await load(server, model, request, seconds, 0);
  } finally {
    // The profiles are written as the threads exit.
    await server.stop();
  }
  const lines = [
    `Under \`--cpu-prof\`: ${rate(run.requestsPerSecond)} req/s. Self time within the measured window, ` +
      `as a share of each thread's busy time (profiles in ${dir.slice(repoRoot.length)}):`,
    "",
  ];
  // CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; thread 0 is the main thread.
  const files = readdirSync(dir)
    .filter((file) => file.endsWith(".cpuprofile"))
    .map((file) => ({ file, threadId: Number(file.split(".")[4]) }))
    .sort((a, b) => a.threadId - b.threadId);
  for (const { file, threadId } of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const summary = summarizeProfile(profile, run.windowUs.from, run.windowUs.until, top);
    if (summary.busyMs + summary.idleMs === 0) continue;
    const thread = threadId === 0 ? "HTTP thread (main)" : `worker thread ${threadId}`;
    lines.push(
      `**${thread}**: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms, ` +
        `${((summary.busyMs * 1000) / run.responses).toFixed(1)} µs of JavaScript-thread time per request.`,
      "",
      "| self | ms | function |",
      "| ---: | ---: | --- |",
      ...summary.top.map((entry) => `| ${(entry.share * 100).toFixed(1)}% | ${entry.ms.toFixed(0)} | ${entry.name.replaceAll("|", "\\|")} |`),
      "",
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cells: { type: "string", default: "iris:json-1,mlp:json-1,mlp:json-64,ocr:png" },
      seconds: { type: "string", default: "10" },
      top: { type: "string", default: "12" },
      env: { type: "string", multiple: true, default: [] },
      "skip-build": { type: "boolean", default: false },
    },
  });
  const seconds = Number(values.seconds);
  const top = Number(values.top);
  const env = Object.fromEntries(
    values.env.map((assignment) => {
      const equals = assignment.indexOf("=");
      if (equals <= 0) throw new Error(`--env ${JSON.stringify(assignment)}: expected VAR=value`);
      return [assignment.slice(0, equals), assignment.slice(equals + 1)];
    }),
  );
  const cells = values.cells.split(",").map((cell) => {
    const [model = "", kind = ""] = cell.split(":");
    const benched = benchModel(model as ModelId);
    return { model: benched, request: benchRequest(benched, kind as RequestKind) };
  });
  if (!values["skip-build"]) {
    progress("building dist/ (tsc -p tsconfig.json)");
    const result = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: repoRoot, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
  }
  await prepareAssets([...new Set(cells.map(({ model }) => model.id))]);
  const report = [
    `# Where the toolkit's time goes, c=${connections}`,
    "",
    `Toolkit: ${describeToolkit(env)}${Object.keys(env).length === 0 ? " (defaults)" : `, with ${values.env.join(" ")}`}. ` +
      `${warmUpSeconds} s of warm-up, then ${seconds} s measured, per run. Written by \`npm run bench:profile\`.`,
    "",
  ];
  for (const { model, request } of cells) {
    progress(`${model.id} ${request.kind}: CPU split`);
    const split = await cpuSplit(model, request, seconds, env);
    progress(`${model.id} ${request.kind}: --cpu-prof`);
    const functions = await topFunctions(model, request, seconds, top, env);
    report.push(`## ${model.id}, ${request.label}`, "", ...split, ...functions);
  }
  const text = report.join("\n");
  mkdirSync(join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench/results/profile.md"), `${text}\n`);
  console.log(text);
}

main().catch((error: unknown) => {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
