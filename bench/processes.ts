import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: every child process runs there. */
export const repoRoot = fileURLToPath(new URL("../", import.meta.url));

const stderrTailBytes = 4_000;

/**
 * A server started in a child process; `stop` ends it with SIGTERM (SIGKILL after 5 s).
 *
 * @example
 * ```ts
 * const server: ChildServer = await startChildServer(["--import", "tsx", "bench/minimal-server.ts", String(port)], port, "/dev/null");
 * await server.stop();
 * ```
 */
export interface ChildServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A TCP port nobody listens on right now.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Runs `node <args>` to completion and parses the JSON line it prints last. Rejects with the
 * exit code and the end of its stderr when it fails.
 *
 * @example
 * ```ts
 * const floor = await runNodeForJson<SessionRunResult>(["--import", "tsx", "bench/session-run.ts", "20000", "2000"]);
 * ```
 */
export function runNodeForJson<T>(args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const stderr = tail(child);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0) {
        reject(new Error(`node ${args.join(" ")} exited with code ${code}:\n${stderr()}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`node ${args.join(" ")} printed no JSON result:\n${stdout.slice(-stderrTailBytes)}${stderr()}`));
      }
    });
  });
}

/**
 * Starts `node <args>` as a server listening on `port`, with its stdout (the toolkit's one JSON
 * log line per request) written to `stdoutPath`, and waits until `GET /ping` answers 200.
 * Rejects with the end of its stderr when it exits first or is not ready within `readyMs`.
 *
 * @example
 * ```ts
 * const server = await startChildServer(["dist/cli.js", "serve", "--port", String(port)], port, "/dev/null");
 * ```
 */
export async function startChildServer(args: readonly string[], port: number, stdoutPath: string, readyMs = 30_000): Promise<ChildServer> {
  const stdoutFd = openSync(stdoutPath, "w");
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", stdoutFd, "pipe"] });
  closeSync(stdoutFd);
  const stderr = tail(child);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + readyMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`node ${args.join(" ")} exited with code ${exitCode} before /ping answered 200:\n${stderr()}`);
    if (await pingsOk(url)) return { url, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`node ${args.join(" ")}: /ping did not answer 200 within ${readyMs} ms:\n${stderr()}`);
}

async function pingsOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Keeps the last few kB of a child's stderr, for error messages. */
function tail(child: ChildProcess): () => string {
  let text = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    text = (text + chunk).slice(-stderrTailBytes);
  });
  return () => text;
}
