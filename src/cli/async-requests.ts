import { parseArgs } from "node:util";
import { asyncSettings } from "../config/async-config.js";
import { listOf } from "../config/kinds.js";
import { parseFlagValue, resolveSettings } from "../config/resolve.js";
import { asyncRequestStatuses, publicView, readQueueDirectory, type AsyncRequestRecord } from "../gateway/async/queue.js";
import type { CliCommand } from "./command.js";
import { processIo, writeAll, type CommandIo } from "./io.js";
import { settingFlagOptions, settingFlagUsage } from "./setting-flags.js";

const usage = `Usage: sagemaker-byoc async-requests [list | show <inference id>] [options]

Lists the async requests of a queue directory (pending and finished), or shows one. Reads the
files only, so it works while the gateway runs and after it stopped.

Options:
${settingFlagUsage([asyncSettings], "async-requests")}
  --status <list>            only these statuses: queued, running, completed, failed
  --json                     JSON instead of a table (list)
  -h, --help                 this text`;

const options = {
  ...settingFlagOptions([asyncSettings], "async-requests"),
  status: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * `async-requests` with explicit streams, for tests; {@link asyncRequestsCommand} runs it with the process's.
 *
 * @example
 * ```ts
 * await runAsyncRequests(["list", "--status", "failed"], process.env, processIo());
 * ```
 */
export async function runAsyncRequests(argv: string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [action = "list", id, ...extra] = positionals;
  if (values.help) {
    await writeAll(io.stdout, `${usage}\n`);
    return 0;
  }
  if (!(action === "list" && id === undefined) && !(action === "show" && id !== undefined && extra.length === 0)) {
    await writeAll(io.stderr, `sagemaker-byoc async-requests: use "list" or "show <inference id>"\n\n${usage}\n`);
    return 2;
  }
  const { queueDir } = resolveSettings(asyncSettings, { env, flags: { command: "async-requests", values } });
  const wanted = parseFlagValue("--status", values.status, listOf(asyncRequestStatuses));
  const records = (await readQueueDirectory(queueDir)).filter((record) => wanted === undefined || wanted.includes(record.status));
  if (action === "show") {
    const record = records.find((candidate) => candidate.inferenceId === id);
    if (record === undefined) {
      await writeAll(io.stderr, `sagemaker-byoc async-requests: no request with inference id ${JSON.stringify(id)} in ${queueDir}\n`);
      return 1;
    }
    await writeAll(io.stdout, `${JSON.stringify(publicView(record), null, 2)}\n`);
    return 0;
  }
  if (values.json) {
    await writeAll(io.stdout, `${JSON.stringify(records.map(publicView), null, 2)}\n`);
    return 0;
  }
  const rows = records.map((record) => [record.inferenceId, record.status, String(record.attempts), record.receivedTime, detail(record)]);
  const header = ["INFERENCE ID", "STATUS", "ATTEMPTS", "RECEIVED", "DETAIL"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const lines = [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] as number))).join("  "));
  await writeAll(io.stdout, `${lines.join("\n")}\n`);
  return 0;
}

function detail(record: AsyncRequestRecord): string {
  if (record.status === "completed") return record.outputLocation;
  if (record.status === "failed") return record.failureReason ?? "";
  return record.lastError === undefined ? record.inputLocation : `retrying: ${record.lastError}`;
}

/** `async-requests`: list or inspect the durable queue. */
export const asyncRequestsCommand: CliCommand = {
  name: "async-requests",
  summary: "list or show pending and finished async requests",
  usage,
  run: (argv, env) => runAsyncRequests(argv, env, processIo()),
};
