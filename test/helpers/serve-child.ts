import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { irisModelDir } from "./server.js";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** A `sagemaker-byoc serve` child process whose JSON log lines the test reads. */
export interface ServeChild {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every log line so far, parsed. */
  readonly lines: Record<string, unknown>[];
  readonly exit: Promise<[number | null, NodeJS.Signals | null]>;
  /** Resolves with the first log line (past or future) that `match` accepts; rejects if the process exits first. */
  waitForLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Output that was not a JSON log line (stderr, stray prints). */
  readonly stray: () => string;
}

/**
 * Spawns `serve --model-dir <iris> --host 127.0.0.1 ...args` on a free port and waits for `/ping` 200
 * (or only for the port to answer, with `waitForReady: false`).
 */
export async function spawnServe(args: readonly string[], env: Record<string, string> = {}, options: { waitForReady?: boolean } = {}): Promise<ServeChild> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", cli, "serve", "--model-dir", irisModelDir, "--host", "127.0.0.1", ...args], {
    env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_BIND_TO_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const watchers = new Set<{ match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }>();
  let stray = "";
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    for (const text of complete) {
      if (text.trim() === "") continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        stray += `${text}\n`;
        continue;
      }
      lines.push(line);
      for (const watcher of watchers) {
        if (!watcher.match(line)) continue;
        watchers.delete(watcher);
        watcher.resolve(line);
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => (stray += chunk.toString()));
  const exit = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const waitForLog = (match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      watchers.add({ match, resolve });
      void exit.then(() => reject(new Error(`the server exited before the awaited log line:\n${stray}`)));
    });
  };
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 400; attempt++) {
    const status = await fetch(`${url}/ping`).then((response) => response.status, () => 0);
    if (status === 200 || (status !== 0 && options.waitForReady === false)) return { child, url, lines, exit, waitForLog, stray: () => stray };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`serve did not become ready:\n${stray}`);
}
