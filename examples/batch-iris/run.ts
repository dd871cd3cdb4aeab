/**
 * The batch transform example on real data: `npm run example:batch-iris [rows] [files]`.
 *
 * 1. Draws `rows` flowers (100,000 by default) from the iris distribution (iris-rows.ts) into
 *    `files` CSV files (4 by default).
 * 2. Serves the bundled iris model as a transform job's container would run (`SAGEMAKER_BATCH=true`).
 * 3. Runs `sagemaker-byoc transform` on them, as a user would: SplitType Line, MultiRecord,
 *    Accept text/csv, AssembleWith Line.
 * 4. Sends every row alone to `POST /invocations` and checks, line by line, that each output line
 *    is the answer to its row.
 *
 * Prints what it found and exits 1 on any difference.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { pathToFileURL, fileURLToPath } from "node:url";
import { runTransform } from "../../src/cli/transform.js";
import type { CommandIo } from "../../src/cli/io.js";
import { startServer } from "../../src/server.js";
import { irisRows, toCsv, type IrisRow } from "./iris-rows.js";

const modelDir = fileURLToPath(new URL("../iris/model", import.meta.url));

/**
 * What the example found.
 *
 * @example
 * ```ts
 * const result: ExampleResult = await runExample({ rows: 3000, files: 3 });
 * result.mismatches.length; // 0
 * ```
 */
export interface ExampleResult {
  readonly rows: number;
  readonly files: number;
  readonly transformExitCode: number;
  readonly transformMs: number;
  /** The first differences found (file, line, output line, answer to the row alone), at most 10. */
  readonly mismatches: readonly string[];
  readonly linesCompared: number;
}

/**
 * Runs the example in a temporary folder (removed afterwards).
 *
 * @example
 * ```ts
 * const { mismatches } = await runExample({ rows: 100_000, files: 4, io: processIo() });
 * ```
 */
export async function runExample(options: { readonly rows: number; readonly files: number; readonly io?: CommandIo; readonly seed?: number }): Promise<ExampleResult> {
  const work = await mkdtemp(join(tmpdir(), "byoc-batch-iris-"));
  const server = await startServer({ port: 0, host: "127.0.0.1", modelDir, logLevel: "warn" }, { SAGEMAKER_BATCH: "true" });
  try {
    await server.loaded;
    const rows = irisRows(options.rows, options.seed ?? 2024);
    const perFile = Math.ceil(rows.length / options.files);
    const files = Array.from({ length: options.files }, (_, index) => ({ name: `flowers-${String(index + 1).padStart(2, "0")}.csv`, rows: rows.slice(index * perFile, (index + 1) * perFile) }));
    await mkdir(join(work, "input"));
    for (const file of files) await writeFile(join(work, "input", file.name), toCsv(file.rows));

    const started = performance.now();
    const args = ["--input", join(work, "input"), "--output", join(work, "output"), "--container-url", server.url];
    const job = ["--content-type", "text/csv", "--accept", "text/csv", "--split-type", "Line", "--batch-strategy", "MultiRecord", "--assemble-with", "Line"];
    const transformExitCode = await runTransform([...args, ...job], {}, options.io ?? quietIo());
    const transformMs = performance.now() - started;

    const answers = await eachRowAlone(server.url, rows);
    const mismatches: string[] = [];
    let linesCompared = 0;
    for (const [fileIndex, file] of files.entries()) {
      const lines = (await readFile(join(work, "output", `${file.name}.out`), "utf8").catch(() => "")).split("\n").slice(0, -1);
      if (lines.length !== file.rows.length) mismatches.push(`${file.name}.out has ${lines.length} lines for ${file.rows.length} rows`);
      for (const [index, line] of lines.entries()) {
        linesCompared++;
        const answer = answers[fileIndex * perFile + index];
        if (line !== answer && mismatches.length < 10) mismatches.push(`${file.name}.out line ${index + 1}: ${JSON.stringify(line)}, but the row alone gets ${JSON.stringify(answer)}`);
      }
    }
    return { rows: rows.length, files: files.length, transformExitCode, transformMs, mismatches, linesCompared };
  } finally {
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** Each row sent alone as `text/csv`, four at a time over kept-alive connections; the answers without their newline. */
async function eachRowAlone(url: string, rows: readonly IrisRow[]): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const answers = new Array<string>(rows.length);
  let next = 0;
  const send = (body: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const call = request(`${url}/invocations`, { method: "POST", agent, headers: { "content-type": "text/csv", accept: "text/csv" } }, (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        response.on("end", () => (response.statusCode === 200 ? resolve(text.trimEnd()) : reject(new Error(`A single row got ${response.statusCode}: ${text}`))));
      });
      call.on("error", reject);
      call.end(body);
    });
  try {
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < rows.length) {
          const index = next++;
          answers[index] = await send(toCsv([rows[index] as IrisRow]));
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return answers;
}

function quietIo(): CommandIo {
  return { stdin: new PassThrough(), stdout: new PassThrough().resume(), stderr: new PassThrough().resume() };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [rows = 100_000, files = 4] = process.argv.slice(2).map(Number);
  const result = await runExample({ rows, files, io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } });
  const count = new Intl.NumberFormat("en-US");
  console.log(
    `${count.format(result.rows)} rows drawn from the iris distribution, in ${result.files} files: transform exited ${result.transformExitCode} after ${(result.transformMs / 1000).toFixed(1)} s ` +
      `(${count.format(Math.round((result.rows / result.transformMs) * 1000))} rows/s)`,
  );
  if (result.mismatches.length === 0 && result.transformExitCode === 0) {
    console.log(`every one of the ${count.format(result.linesCompared)} output lines equals the answer to its row sent alone`);
  } else {
    console.log(`differences:\n  ${result.mismatches.join("\n  ")}`);
    process.exitCode = 1;
  }
}
