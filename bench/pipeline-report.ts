/**
 * The pipeline benchmark's section of docs/benchmarks.md, between `<!-- bench:pipeline -->` and
 * `<!-- /bench:pipeline -->`: written by `npm run bench:pipeline`, never by hand. Other
 * benchmarks own the file's other sections.
 */
import type { LatencySummary } from "./stats.js";
import { writeSection } from "./benchmarks-doc.js";
import { describeLoadAverage, type Machine } from "./machine.js";

/**
 * One route measured with two body sizes.
 *
 * @example
 * ```ts
 * const row: HopRow = { route: "gateway, Serial, 2 containers", containers: 2, small: summary, large: summary };
 * ```
 */
export interface HopRow {
  readonly route: string;
  /** Containers a request goes through (0: the container called without the gateway). */
  readonly containers: number;
  readonly small: LatencySummary;
  readonly large: LatencySummary;
}

/**
 * What `npm run bench:pipeline` measured.
 *
 * @example
 * ```ts
 * const results: PipelineBenchResults = { date, machine, smallBytes: 1024, largeBytes: 1 << 20, hops, ocr };
 * ```
 */
export interface PipelineBenchResults {
  readonly date: string;
  readonly machine: Machine;
  /** The machine's 1-minute load average when the run started and when it ended: other work on it shows here. */
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly smallBytes: number;
  readonly largeBytes: number;
  readonly hops: readonly HopRow[];
  readonly ocr: {
    readonly inProcess: LatencySummary;
    readonly oneContainer: LatencySummary;
    readonly twoContainers: LatencySummary;
    /** `/ping` of the one-container server while it read, every 100 ms on a new connection. */
    readonly ping: LatencySummary;
    /** The same, for 5 s before it read anything: the machine's own scheduling delays. */
    readonly idlePing: LatencySummary;
    readonly lines: readonly string[];
  };
}

/** The targets of issue #13: the one-container reader within 10% of its steps run in process at c=1, and `/ping` under 50 ms meanwhile. */
const maxOneContainerRatio = 1.1;
const maxPingMs = 50;

/**
 * The extra time one more container costs, in ms at p50: the slope from the shortest to the
 * longest serial pipeline measured.
 *
 * @example
 * ```ts
 * perHopMs(hops, "small"); // 0.41
 * ```
 */
export function perHopMs(hops: readonly HopRow[], size: "small" | "large"): number {
  const serial = hops.filter((row) => row.route.startsWith("gateway, Serial"));
  const first = serial[0];
  const last = serial.at(-1);
  if (first === undefined || last === undefined || last.containers === first.containers) return Number.NaN;
  return (last[size].p50 - first[size].p50) / (last.containers - first.containers);
}

/**
 * The section as markdown, markers included.
 *
 * @example
 * ```ts
 * const section = renderPipelineSection(results);
 * ```
 */
export function renderPipelineSection(results: PipelineBenchResults): string {
  const { machine, hops, ocr } = results;
  const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : "n/a");
  const kib = (bytes: number): string => (bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`);
  const direct = hops.find((row) => row.containers === 0);
  const viaGateway = hops.find((row) => row.route.startsWith("gateway, Direct"));
  const ratio = ocr.oneContainer.p50 / ocr.inProcess.p50;
  const verdict = (pass: boolean): string => (pass ? "**pass**" : "**FAIL**");
  const signed = (value: number): string => `${value >= 0 ? "+" : "−"}${ms(Math.abs(value))}`;
  const lines = [
    "## Multi-container pipelines and the OCR example",
    "",
    `Written by \`npm run bench:pipeline\` (bench/pipeline.bench.ts) on ${results.date}: ${machine.cpu}, ${machine.cores} cores, ` +
      `Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}, ${machine.os}; ${describeLoadAverage(results.loadAverage.start, results.loadAverage.end, machine.cores)}. ` +
      "Every server runs in its own process; requests are sequential (c=1) over one keep-alive connection; times in ms.",
    "",
    "### What a hop costs",
    "",
    `Echo containers (bench/pipeline-echo-container.ts: bare \`node:http\`, the body back) behind the \`pipeline\` gateway, ${kib(results.smallBytes)} and ${kib(results.largeBytes)} bodies:`,
    "",
    `| route | ${kib(results.smallBytes)} p50 | p99 | ${kib(results.largeBytes)} p50 | p99 |`,
    "| --- | --- | --- | --- | --- |",
    ...hops.map((row) => `| ${row.route} | ${ms(row.small.p50)} | ${ms(row.small.p99)} | ${ms(row.large.p50)} | ${ms(row.large.p99)} |`),
    "",
    `Each container added to a serial pipeline adds **${ms(perHopMs(hops, "small"))} ms** at p50 with ${kib(results.smallBytes)} bodies and ` +
      `**${ms(perHopMs(hops, "large"))} ms** with ${kib(results.largeBytes)} bodies (the slope from the shortest to the longest pipeline: ` +
      "an HTTP request to the container, reading its answer, handing it on). " +
      (direct !== undefined && viaGateway !== undefined
        ? `The gateway itself adds ${ms(viaGateway.small.p50 - direct.small.p50)} ms and ${ms(viaGateway.large.p50 - direct.large.p50)} ms ` +
          "(Direct mode to one container, against that container called alone)."
        : ""),
    "",
    "### The OCR example: one container against its steps in process, and two containers",
    "",
    `One page (bench/pipeline-ocr-page.ts: 1100×520 PNG, ${ocr.lines.length} lines), read by:`,
    "",
    "| form | p50 | p90 | mean | max |",
    "| --- | --- | --- | --- | --- |",
    ...(
      [
        ["in process: read-text.ts's handlers called directly, `serve`'s ONNX settings (bench/pipeline-ocr-in-process.ts)", ocr.inProcess],
        ["one container: `serve --handlers examples/ocr/read-text.ts`", ocr.oneContainer],
        ["two containers: `pipeline` over inference.ts and recognition.ts", ocr.twoContainers],
      ] as const
    ).map(([form, summary]) => `| ${form} | ${ms(summary.p50)} | ${ms(summary.p90)} | ${ms(summary.mean)} | ${ms(summary.max)} |`),
    "",
    `- One container against in process at c=1 (target: within 10%): ${ratio.toFixed(3)}× at p50, ${verdict(ratio <= maxOneContainerRatio)}.`,
    `- \`/ping\` while the one container read (target: under ${maxPingMs} ms): p50 ${ms(ocr.ping.p50)}, p99 ${ms(ocr.ping.p99)}, ` +
      `max ${ms(ocr.ping.max)} over ${ocr.ping.count} pings, ${verdict(ocr.ping.max < maxPingMs)}; ` +
      `the same server idle: p50 ${ms(ocr.idlePing.p50)}, p99 ${ms(ocr.idlePing.p99)}, max ${ms(ocr.idlePing.max)} over ${ocr.idlePing.count} pings.`,
    `- Two containers against one, at p50: ${signed(ocr.twoContainers.p50 - ocr.oneContainer.p50)} ms (two hops, the cropped lines as PNG in between).`,
    `- All three read the same lines: ${ocr.lines.map((line) => `"${line}"`).join(", ")}.`,
  ];
  return lines.join("\n");
}

/**
 * Writes the section into `file`, leaving its other sections as they are.
 *
 * @example
 * ```ts
 * writePipelineSection("docs/benchmarks.md", results);
 * ```
 */
export function writePipelineSection(file: string, results: PipelineBenchResults): void {
  writeSection(file, "pipeline", renderPipelineSection(results));
}
