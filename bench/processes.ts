import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: every child process runs there. */
export const repoRoot = fileURLToPath(new URL("../", import.meta.url));

const stderrTailBytes = 4_000;
const stopGraceMs = 5_000;

/**
 * A server under test: one or more child processes answering HTTP on `url`.
 *
 * @example
 * ```ts
 * const server: ChildServer = await startNodeServer(["bench/minimal-server.ts", String(port)], port);
 * await server.stop();
 * ```
 */
export interface ChildServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The process whose memory and threads are the server's (the first one started). */
  readonly pid: number;
  /** Every process started for the server; they and their descendants are its CPU (bench/thread-cpu.ts). */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/**
 * A child process with the end of its stderr kept for error messages.
 *
 * @example
 * ```ts
 * const child = spawnChild("/usr/sbin/nginx", ["-c", conf], {});
 * await child.stop("SIGQUIT");
 * ```
 */
export interface RunningChild {
  readonly process: ChildProcess;
  readonly describe: string;
  /** The exit code (or -1 after a signal) once it has exited, else undefined. */
  exitCode(): number | undefined;
  stderr(): string;
  /** Sends `signal` (SIGTERM by default), then SIGKILL after 5 s, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
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
 * Starts `command args` in the repository root with `env` added to this process's environment,
 * stdout discarded (servers log a line per request there) or written to `stdoutPath`, and
 * stderr kept.
 *
 * @example
 * ```ts
 * const gunicorn = spawnChild("/usr/bin/gunicorn", ["app:app"], { BENCH_MODEL_DIR: dir });
 * ```
 */
export function spawnChild(command: string, args: readonly string[], env: Readonly<Record<string, string>>, stdoutPath?: string): RunningChild {
  const stdoutFd = stdoutPath === undefined ? undefined : openSync(stdoutPath, "w");
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", stdoutFd ?? "ignore", "pipe"] });
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  const stderr = tail(child);
  let code: number | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (exitCode) => {
      code = exitCode ?? -1;
      resolve();
    }),
  );
  child.once("error", () => (code ??= -1));
  return {
    process: child,
    describe: [command, ...args].join(" "),
    exitCode: () => code,
    stderr,
    async stop(signal = "SIGTERM") {
      if (code !== undefined) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Waits until `GET <url>/ping` answers 200. Rejects with the end of a child's stderr when one
 * of `children` exits first, or when `readyMs` passes.
 *
 * @example
 * ```ts
 * await waitUntilReady("http://127.0.0.1:8080", [server]);
 * ```
 */
export async function waitUntilReady(url: string, children: readonly RunningChild[], readyMs = 60_000): Promise<void> {
  const deadline = Date.now() + readyMs;
  while (Date.now() < deadline) {
    const gone = children.find((child) => child.exitCode() !== undefined);
    if (gone !== undefined) throw new Error(`${gone.describe} exited with code ${gone.exitCode()} before /ping answered 200:\n${gone.stderr()}`);
    if (await pingsOk(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url}/ping did not answer 200 within ${readyMs} ms:\n${children.map((child) => child.stderr()).join("\n")}`);
}

/**
 * Starts `node <args>` as a server on `port`, with `env` added to this process's environment,
 * and waits until `/ping` answers 200 (at most `readyMs`).
 *
 * @example
 * ```ts
 * const server = await startNodeServer(["dist/cli.js", "serve", "--port", String(port)], port, { BYOC_HOST: "127.0.0.1" });
 * ```
 */
export async function startNodeServer(
  args: readonly string[],
  port: number,
  env: Readonly<Record<string, string>> = {},
  readyMs = 60_000,
  stdoutPath?: string,
): Promise<ChildServer> {
  const child = spawnChild(process.execPath, args, env, stdoutPath);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, [child], readyMs);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const pid = child.process.pid ?? 0;
  return { url, pid, pids: [pid], stop: () => child.stop() };
}

/**
 * Runs `node <args>` to completion and parses the JSON line it prints last. Rejects with the
 * exit code and the end of its stderr when it fails.
 *
 * @example
 * ```ts
 * const floor = await runNodeForJson<FloorResult>(["--import", "tsx", "bench/floor.ts", "mlp", "json-1", "2000"]);
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
