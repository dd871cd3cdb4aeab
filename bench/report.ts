/**
 * The serving benchmark's results, the verdict on each target of issue #11, and the markdown
 * section of docs/benchmarks.md that shows them.
 */
import type { FloorResult } from "./floor.js";
import { numbersIn, sameNumbers, type Failures, type LoadRun, type PingRun } from "./load.js";
import { describeLoadAverage, type Machine } from "./machine.js";
import { cpuTable } from "./cpu-report.js";
import { integer, ms, rate, row, signed } from "./markdown.js";
import { pingConcurrency, type CellSizes, type Memory, type ServerCell } from "./measure.js";
import type { ModelId, RequestKind } from "./workloads.js";

/**
 * One model and request kind, measured.
 *
 * @example
 * ```ts
 * const cell: RequestResults = { model: "mlp", request: "json-1", label: "JSON, 1 row", concurrencies: [1, 8, 64], floor, servers };
 * ```
 */
export interface RequestResults {
  readonly model: ModelId;
  readonly request: RequestKind;
  readonly label: string;
  readonly concurrencies: readonly number[];
  readonly floor: FloorResult | { readonly error: string };
  readonly servers: readonly ServerCell[];
}

/**
 * A model's resident memory in the toolkit with a number of workers.
 *
 * @example
 * ```ts
 * const row: MemoryResult = { model: "mlp", request: "json-64", workers: 2, memory: { rssMiB: 190, peakRssMiB: 201 } };
 * ```
 */
export interface MemoryResult {
  readonly model: ModelId;
  readonly request: RequestKind;
  readonly workers: number;
  readonly memory?: Memory;
  readonly error?: string;
}

/**
 * A target with its verdict; "not measured" when the run lacked a cell it needs.
 *
 * @example
 * ```ts
 * const target: Target = { name: "MLP, 1-row JSON, c=8, vs Python", goal: ">= 2x", measured: "2.4x (5,210 vs 2,170 req/s)", result: "met" };
 * ```
 */
export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly result: "met" | "missed" | "not measured";
  /** For a throughput target, the rows it compares. */
  readonly comparison?: Comparison;
  /** For a missed target, where the time goes, from the same run's figures (bench/why-missed.ts). */
  readonly why?: string;
}

/**
 * The two rows of a cell a throughput target compares.
 *
 * @example
 * ```ts
 * const comparison: Comparison = { model: "iris", request: "json-1", connections: 8, factor: 0.8, toolkit: "toolkit", baseline: "minimal" };
 * ```
 */
export interface Comparison {
  readonly model: ModelId;
  readonly request: RequestKind;
  readonly connections: number;
  /** How many times the baseline's requests per second the toolkit row must reach. */
  readonly factor: number;
  /** The toolkit row judged. */
  readonly toolkit: string;
  /** What it is measured against: the Python stack, the minimal server, or the toolkit with batching off. */
  readonly baseline: "python" | "minimal" | "unbatched";
}

/**
 * Everything a run wrote to bench/results/serving.json.
 *
 * @example
 * ```ts
 * const markdown = formatMarkdown(results);
 * ```
 */
export interface ServingResults {
  readonly date: string;
  readonly mode: "full" | "quick";
  /** Wall time of the whole run, build included. */
  readonly durationSeconds: number;
  readonly machine: Machine;
  /** Versions of the Python contender's parts. */
  readonly python: string;
  /**
   * The 1-minute load average before the run and when it ended (the run's own processes
   * included): above the core count, other work competed for the CPU.
   */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly sizes: CellSizes;
  readonly floorSeconds: number;
  /** Each contender's name and what it ran with, floor first. */
  readonly contenders: readonly { readonly name: string; readonly settings: string }[];
  readonly models: readonly { readonly id: ModelId; readonly title: string; readonly pythonSkipped?: string; readonly notApplicable?: string }[];
  readonly cells: readonly RequestResults[];
  readonly memory: readonly MemoryResult[];
  readonly targets: readonly Target[];
  /** Requests to `/invocations` that failed, over every server. */
  readonly failedRequests: number;
  /** Contenders whose answer is not the floor's within float rounding, and errors of the run. */
  readonly problems: readonly string[];
}

/** The toolkit contender the targets judge: the toolkit with its defaults. */
export const toolkitName = "toolkit";

/**
 * The two toolkit rows the batching target compares, by contender name.
 *
 * @example
 * ```ts
 * const pair: BatchingPair = { batched: "toolkit", unbatched: "toolkit, batching off" };
 * ```
 */
export interface BatchingPair {
  readonly batched: string;
  readonly unbatched: string;
}
/** The Python stack's row names, which start with "Python". */
export const pythonRow = /^Python/;
/** The minimal server's row name. */
export const minimalName = "minimal node:http";
const pingLimitMs = 50;

/**
 * Requests to `/invocations` of a server that failed, timed out, got a non-2xx or a wrong body.
 * Pings are judged apart: a server that runs the model on its only thread (the minimal one)
 * cannot answer them in time, by design.
 *
 * @example
 * ```ts
 * failedIn(cell); // 0
 * ```
 */
export function failedIn(cell: ServerCell): number {
  return cell.runs.reduce((sum, run) => sum + count(run.failures), 0);
}

/**
 * The problems of a run: servers that failed to start or run, and servers whose answer is not
 * the in-process floor's within relative 1e-5 (float32 printed differently, another BLAS).
 *
 * @example
 * ```ts
 * findProblems(cells); // ["mlp json-1 Python: ... predictions differ from the floor's"]
 * ```
 */
export function findProblems(cells: readonly RequestResults[]): string[] {
  return cells.flatMap((cell) => {
    const where = `${cell.model} ${cell.request}`;
    const problems: string[] = [];
    if ("error" in cell.floor) problems.push(`${where} floor: ${cell.floor.error}`);
    for (const server of cell.servers) {
      if (server.error !== undefined) problems.push(`${where} ${server.contender}: ${server.error}`);
      const answer = server.runs[0]?.answer;
      if (answer === undefined || "error" in cell.floor) continue;
      const reference = cell.floor.answer;
      try {
        const same = sameNumbers(numbersOf(answer), numbersOf(reference), 1e-5);
        if (!same) problems.push(`${where} ${server.contender}: its answer differs from the in-process floor's beyond float rounding`);
      } catch (error) {
        problems.push(`${where} ${server.contender}: its answer could not be compared: ${(error as Error).message}`);
      }
    }
    return problems;
  });
}

/**
 * The row of `cell` named `contender`; a RegExp matches a family of names (the Python stack's).
 *
 * @example
 * ```ts
 * serverIn(cell, pythonRow)?.contender; // "Python: nginx → gunicorn → Flask + numpy"
 * ```
 */
export function serverIn(cell: RequestResults, contender: string | RegExp): ServerCell | undefined {
  return cell.servers.find((server) => (typeof contender === "string" ? server.contender === contender : contender.test(server.contender)));
}

/**
 * `server`'s run at `connections`, when it got answers: a run without has no latency (JSON wrote
 * its NaNs as null), nothing to judge.
 *
 * @example
 * ```ts
 * answeredRun(serverIn(cell, "toolkit"), 8)?.requestsPerSecond;
 * ```
 */
export function answeredRun(server: ServerCell | undefined, connections: number): LoadRun | undefined {
  return server?.runs.find((run) => run.connections === connections && run.responses > 0);
}

/**
 * Judges each target of issue #11 on the cells measured; `batching` names the rows the
 * batching target compares.
 *
 * @example
 * ```ts
 * const targets = evaluateTargets(cells, { batched: "toolkit", unbatched: "toolkit, batching off" });
 * ```
 */
export function evaluateTargets(cells: readonly RequestResults[], batching: BatchingPair): Target[] {
  const at = (model: ModelId, request: RequestKind, contender: string | RegExp, connections: number): LoadRun | undefined => {
    const cell = cells.find((candidate) => candidate.model === model && candidate.request === request);
    return cell === undefined ? undefined : answeredRun(serverIn(cell, contender), connections);
  };
  const baselines: Record<Exclude<Comparison["baseline"], "unbatched">, { readonly row: RegExp | string; readonly name: string }> = {
    python: { row: pythonRow, name: "Python" },
    minimal: { row: minimalName, name: "minimal" },
  };
  const ratio = (name: string, goal: number, model: ModelId, request: RequestKind, baseline: keyof typeof baselines): Target => {
    const comparison: Comparison = { model, request, connections: 8, factor: goal, toolkit: toolkitName, baseline };
    const toolkit = at(model, request, toolkitName, comparison.connections);
    const other = at(model, request, baselines[baseline].row, comparison.connections);
    if (toolkit === undefined || other === undefined) {
      return notMeasured(name, `>= ${goal}x`, `no ${toolkit === undefined ? toolkitName : baselines[baseline].name} run`);
    }
    const measured = toolkit.requestsPerSecond / other.requestsPerSecond;
    return {
      name,
      goal: `>= ${goal}x`,
      measured: `${measured.toFixed(2)}x (${integer(toolkit.requestsPerSecond)} vs ${integer(other.requestsPerSecond)} req/s)`,
      result: measured >= goal ? "met" : "missed",
      comparison,
    };
  };
  const targets: Target[] = [
    ratio("MLP, 1-row JSON, c=8: toolkit / Python", 2, "mlp", "json-1", "python"),
    ratio("MLP, 1-row JSON, c=8: toolkit / minimal", 0.9, "mlp", "json-1", "minimal"),
    ratio("MLP, 64-row JSON, c=8: toolkit / Python", 3, "mlp", "json-64", "python"),
    ratio("iris, 1-row JSON, c=8: toolkit / minimal", 0.8, "iris", "json-1", "minimal"),
  ];

  const irisToolkit = at("iris", "json-1", toolkitName, 1);
  const irisMinimal = at("iris", "json-1", minimalName, 1);
  const p50Name = "iris, 1-row JSON, c=1: p50 toolkit − minimal";
  if (irisToolkit === undefined || irisMinimal === undefined) targets.push(notMeasured(p50Name, "<= 0.1 ms", "no c=1 run"));
  else {
    const overhead = irisToolkit.latency.p50 - irisMinimal.latency.p50;
    targets.push({
      name: p50Name,
      goal: "<= 0.1 ms",
      measured: `${signed(overhead)} ms (${ms(irisToolkit.latency.p50)} vs ${ms(irisMinimal.latency.p50)})`,
      result: overhead <= 0.1 ? "met" : "missed",
    });
  }

  const batchingName64 = `MLP, 1-row JSON, c=64: ${batching.batched} / ${batching.unbatched}`;
  const batched = at("mlp", "json-1", batching.batched, pingConcurrency);
  const unbatched = at("mlp", "json-1", batching.unbatched, pingConcurrency);
  if (batched === undefined || unbatched === undefined) {
    targets.push(
      notMeasured(batchingName64, ">= 3x req/s, p99 <= unbatched", `no ${batched === undefined ? batching.batched : batching.unbatched} run at c=64`),
    );
  } else {
    const speedUp = batched.requestsPerSecond / unbatched.requestsPerSecond;
    targets.push({
      name: batchingName64,
      goal: ">= 3x req/s, p99 <= unbatched",
      measured: `${speedUp.toFixed(2)}x (${integer(batched.requestsPerSecond)} vs ${integer(unbatched.requestsPerSecond)} req/s), p99 ${ms(batched.latency.p99)} vs ${ms(unbatched.latency.p99)} ms`,
      result: speedUp >= 3 && batched.latency.p99 <= unbatched.latency.p99 ? "met" : "missed",
      comparison: { model: "mlp", request: "json-1", connections: pingConcurrency, factor: 3, toolkit: batching.batched, baseline: "unbatched" },
    });
  }

  const ocrName = "OCR detector, PNG, c=1: toolkit p50 / in-process decode + run + post-processing";
  const ocrToolkit = at("ocr", "png", toolkitName, 1);
  const ocrFloor = cells.find((cell) => cell.model === "ocr" && cell.request === "png")?.floor;
  if (ocrToolkit === undefined || ocrFloor === undefined || "error" in ocrFloor) targets.push(notMeasured(ocrName, "<= 1.10x", "no OCR PNG c=1 run"));
  else {
    const share = ocrToolkit.latency.p50 / ocrFloor.total.p50;
    targets.push({
      name: ocrName,
      goal: "<= 1.10x",
      measured: `${share.toFixed(3)}x (${ms(ocrToolkit.latency.p50)} vs ${ms(ocrFloor.total.p50)} ms)`,
      result: share <= 1.1 ? "met" : "missed",
    });
  }

  const allServers = cells.flatMap((cell) => cell.servers.map((server) => ({ cell, server })));
  const failing = allServers.filter(({ server }) => server.contender.startsWith(toolkitName) && failedIn(server) > 0);
  targets.push({
    name: "every toolkit run: failed requests to /invocations",
    goal: "none",
    measured:
      failing.length === 0
        ? "0"
        : failing.map(({ cell, server }) => `${failedIn(server)} in ${cell.model} ${cell.request} ${server.contender}`).join("; "),
    result: failing.length === 0 ? "met" : "missed",
  });

  const pinged = allServers.filter(({ server }) => server.contender.startsWith(toolkitName) && server.ping !== undefined);
  const failedPings = pinged.reduce((sum, { server }) => sum + (server.ping === undefined ? 0 : count(server.ping.failures)), 0);
  const worst = pinged.reduce<(typeof pinged)[number] | undefined>(
    (current, entry) => (current === undefined || (entry.server.ping?.latency.p99 ?? 0) > (current.server.ping?.latency.p99 ?? 0) ? entry : current),
    undefined,
  );
  const pingName = `every toolkit run: /ping p99 at c=${pingConcurrency}`;
  if (worst?.server.ping === undefined) targets.push(notMeasured(pingName, `< ${pingLimitMs} ms`, `no c=${pingConcurrency} run`));
  else {
    const p99 = worst.server.ping.latency.p99;
    targets.push({
      name: pingName,
      goal: `< ${pingLimitMs} ms`,
      measured:
        `worst ${ms(p99)} ms (${worst.cell.model} ${worst.cell.request} ${worst.server.contender}), over ${pinged.length} run${pinged.length === 1 ? "" : "s"}` +
        (failedPings === 0 ? "" : `; ${failedPings} pings failed`),
      result: p99 < pingLimitMs && failedPings === 0 ? "met" : "missed",
    });
  }
  return targets;
}

/**
 * The docs/benchmarks.md section (without its markers).
 *
 * @example
 * ```ts
 * writeSection("docs/benchmarks.md", "serving", formatMarkdown(results));
 * ```
 */
export function formatMarkdown(results: ServingResults): string {
  const { machine, sizes } = results;
  const minutes = results.durationSeconds / 60;
  const cpuLines = cpuTable(results.cells);
  const lines = [
    "## Serving: `POST /invocations` (`npm run bench`)",
    "",
    `Written by \`npm run bench${results.mode === "quick" ? ":quick" : ""}\` (bench/serving.bench.ts) on ${results.date.slice(0, 10)}; ` +
      `${results.mode === "quick" ? "**quick mode**: fewer cells, short windows" : "the full matrix"}, which took ${minutes.toFixed(1)} minutes.`,
    "",
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}. ` +
      `${describeLoadAverage(results.loadAverage.before, results.loadAverage.after, machine.cores)}.`,
    `- Software: Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}; ${results.python}.`,
    `- Client: bench/load.ts in its own process on the same machine, keep-alive connections in a closed loop (each sends again as soon as ` +
      `its answer arrives); each concurrency ${sizes.warmUpSeconds} s of warm-up, then ${sizes.seconds} s measured. ` +
      `\`/ping\` is sampled from a third process during each c=${pingConcurrency} window, up to ${sizes.pings} times on a new connection each. One server runs at a time.`,
    `- Every answer is compared with the first byte for byte (one that differs only in float rounding, relative 1e-5, is counted apart), ` +
      `and each server's answer with the in-process floor's (relative 1e-5). "failed" counts errors, timeouts, non-2xx and wrong answers to \`/invocations\`.`,
    "",
    "### Contenders",
    "",
    row(["contender", "runs with"]),
    row(["---", "---"]),
    ...results.contenders.map((contender) => row([contender.name, contender.settings])),
    "",
    "### Targets (issue #11)",
    "",
    row(["target", "goal", "measured", "result"]),
    row(["---", "---", "---", "---"]),
    ...results.targets.map((target) => row([target.name, target.goal, target.measured, target.result === "missed" ? "**missed**" : target.result])),
    "",
    ...whyLines(results.targets, cpuLines.length > 0),
  ];
  if (results.problems.length > 0) lines.push("Problems in this run:", "", ...results.problems.map((problem) => `- ${problem}`), "");
  for (const model of results.models) {
    const cells = results.cells.filter((cell) => cell.model === model.id);
    if (cells.length === 0) continue;
    lines.push(`### ${model.title}`, "", ...modelTable(cells), "");
    if (model.notApplicable !== undefined) lines.push(`${model.notApplicable}.`, "");
    if (model.pythonSkipped !== undefined) lines.push(`No Python contender: ${model.pythonSkipped}.`, "");
  }
  lines.push(
    "Latencies in ms. Floor rows are in-process and sequential: the model's run alone (`session.run`; for images, the " +
      "OCR example's `predictFn`), and the whole request (decode the body, run, encode the answer) without HTTP; their stages are below.",
    "",
    "### Where the floor's time goes (p50, ms)",
    "",
    row(["model", "request", "decode", "run", "encode", "total"]),
    row(["---", "---", "---:", "---:", "---:", "---:"]),
    ...results.cells.map((cell) =>
      "error" in cell.floor
        ? row([cell.model, cell.label, "–", "–", "–", "–"])
        : row([cell.model, cell.label, ms(cell.floor.decode.p50), `${ms(cell.floor.run.p50)} (${cell.floor.runs})`, ms(cell.floor.encode.p50), ms(cell.floor.total.p50)]),
    ),
    "",
    ...cpuLines,
  );
  lines.push(...memoryTable(results));
  return lines.join("\n").trimEnd();
}

function modelTable(cells: readonly RequestResults[]): string[] {
  // c=1 always has its columns: the floor rows, sequential, fill them.
  const concurrencies = [...new Set([1, ...cells.flatMap((cell) => cell.concurrencies)])].sort((a, b) => a - b);
  const pinged = concurrencies.includes(pingConcurrency);
  const header = [
    "request",
    "contender",
    ...concurrencies.flatMap((c) => (c === 1 ? ["c=1 p50", "c=1 p99"] : [`c=${c} req/s`, `c=${c} p50`, `c=${c} p99`])),
    ...(pinged ? [`/ping p99 at c=${pingConcurrency}`] : []),
    "failed",
  ];
  const blanks = (c: number) => (c === 1 ? ["–", "–"] : ["–", "–", "–"]);
  const rows: string[][] = [];
  for (const cell of cells) {
    const noPing = pinged ? ["–"] : [];
    if ("error" in cell.floor) rows.push([cell.label, "floor", ...concurrencies.flatMap(blanks), ...noPing, cell.floor.error]);
    else {
      const floorRow = (name: string, latency: { p50: number; p99: number }) => [
        cell.label,
        name,
        ...concurrencies.flatMap((c) => (c === 1 ? [ms(latency.p50), ms(latency.p99)] : blanks(c))),
        ...noPing,
        "–",
      ];
      rows.push(floorRow(`floor: ${cell.floor.runs}`, cell.floor.run), floorRow("floor: in-process request", cell.floor.total));
    }
    for (const server of cell.servers) {
      if (server.skipped !== undefined) continue;
      const runs = concurrencies.flatMap((c) => {
        const run = server.runs.find((entry) => entry.connections === c);
        if (run === undefined) return blanks(c);
        return c === 1 ? [ms(run.latency.p50), ms(run.latency.p99)] : [rate(run.requestsPerSecond), ms(run.latency.p50), ms(run.latency.p99)];
      });
      const inexact = server.runs.reduce((sum, run) => sum + run.inexact, 0);
      const failed =
        String(failedIn(server)) +
        (inexact === 0 ? "" : ` (${inexact} answers rounded differently)`) +
        (server.error === undefined ? "" : `, then: ${server.error.split("\n")[0] ?? ""}`);
      const ping = pinged ? [server.ping === undefined ? "–" : describePing(server.ping)] : [];
      rows.push([cell.label, server.contender, ...runs, ...ping, failed]);
    }
  }
  return [row(header), row(header.map((_, column) => (column < 2 ? "---" : "---:"))), ...rows.map(row)];
}

function memoryTable(results: ServingResults): string[] {
  if (results.memory.length === 0) return ["Resident memory is measured by the full run only."];
  const workerCounts = [...new Set(results.memory.map((entry) => entry.workers))].sort((a, b) => a - b);
  const models = [...new Set(results.memory.map((entry) => entry.model))];
  const cell = (model: ModelId, workers: number) => {
    const entry = results.memory.find((candidate) => candidate.model === model && candidate.workers === workers);
    if (entry?.memory === undefined) return entry?.error ?? "–";
    return `${entry.memory.rssMiB.toFixed(0)} (peak ${entry.memory.peakRssMiB.toFixed(0)})`;
  };
  return [
    "### Resident memory of the toolkit (MiB)",
    "",
    "The whole `serve` process (HTTP thread and workers), after 2 s at c=8 of the request named; `VmRSS`, and `VmHWM` as the peak.",
    "",
    row(["model", "request", ...workerCounts.map((workers) => `${workers} worker${workers === 1 ? "" : "s"}`)]),
    row(["---", "---", ...workerCounts.map(() => "---:")]),
    ...models.map((model) => row([model, results.memory.find((entry) => entry.model === model)?.request ?? "", ...workerCounts.map((workers) => cell(model, workers))])),
  ];
}

function whyLines(targets: readonly Target[], cpuMeasured: boolean): string[] {
  const explained = targets.filter((target) => target.why !== undefined);
  if (explained.length === 0) return [];
  return [
    `Where the time goes in each missed target, from this run's figures${cpuMeasured ? ' (each thread\'s CPU in "Where the CPU goes" below)' : ""}:`,
    "",
    ...explained.map((target) => `- **${target.name}**: ${target.why ?? ""}`),
    "",
  ];
}

function describePing(ping: PingRun): string {
  const failed = count(ping.failures);
  return failed === 0 ? ms(ping.latency.p99) : `${ms(ping.latency.p99)} (${failed} of ${ping.pings} failed)`;
}

function numbersOf(answer: { readonly body: string; readonly contentType: string }): number[] {
  return numbersIn({ contentType: answer.contentType, body: Buffer.from(answer.body, "base64") });
}

function notMeasured(name: string, goal: string, why: string): Target {
  return { name, goal, measured: why, result: "not measured" };
}

function count(failures: Failures): number {
  return failures.errors + failures.timeouts + failures.non2xx + failures.mismatches;
}
