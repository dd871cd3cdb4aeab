/**
 * What every reliability attack shares: the {@link Attack} shape the runner (`run.ts`) expects,
 * child processes it can measure (CPU time, peak RSS, disk writes, from /proc), and a `/ping`
 * prober. One attack per file, `<name>.attack.ts` in this folder, exporting `attack`; the runner
 * picks up every such file, so a new attack needs nothing else.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/free-port.js";

export { freePort };

/** The repository root; child processes run there. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI from source, run with tsx. */
export const cliArgs = ["--import", "tsx", fileURLToPath(new URL("../../src/cli.ts", import.meta.url))];
export const irisModelDir = fileURLToPath(new URL("../../examples/iris/model", import.meta.url));

/**
 * The figures the report's summary table has a column for; an attack fills those that apply.
 * Times in ms, sizes in bytes.
 */
export interface CommonFigures {
  readonly requestsServed?: number;
  readonly failures?: number;
  readonly rssPeakBytes?: number;
  readonly pingP99Ms?: number;
  readonly pingMaxMs?: number;
}

/** What an attack found: whether the fix held, the common figures, and its own figures in order. */
export interface AttackResult {
  readonly passed: boolean;
  /** One sentence: what happened, with the figure that decides it. */
  readonly outcome: string;
  readonly figures: CommonFigures;
  readonly details: ReadonlyArray<readonly [label: string, value: string]>;
}

/** One attack of the issue, at full size. */
export interface Attack {
  /** Short title, also what `npm run test:reliability -- <filter>` matches. */
  readonly name: string;
  /** The attack as first described, and what the fix must make of it. */
  readonly description: string;
  readonly expectation: string;
  run(context: AttackContext): Promise<AttackResult>;
}

export interface AttackContext {
  /** A fresh temporary directory, removed afterwards. */
  readonly workDir: string;
  /** Progress for the terminal (not the report). */
  progress(message: string): void;
}

/** A child Node.js process with its output kept (the last 64 kB) and its lines counted. */
export interface MeasuredChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Lines written to stdout and stderr so far. */
  lines(): number;
  /** Calls `listener` with every complete line written to stdout or stderr from now on. */
  onLine(listener: (line: string) => void): void;
  output(): string;
  /** CPU time (user + system, all threads) so far, in ms. */
  cpuMs(): number;
  /** Peak resident set size so far (VmHWM), in bytes. */
  rssPeakBytes(): number;
  /** Bytes the process caused to be written to storage so far (`write_bytes`). */
  diskWriteBytes(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or the signal). */
  stop(graceMs?: number): Promise<number | string>;
}

const outputTailBytes = 64 * 1024;
/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture Node runs on. */
const clockTicksPerSecond = 100;

/**
 * Spawns `node <args>` in the repository root, its output piped and kept.
 *
 * @example
 * ```ts
 * const server = spawnNode([...cliArgs, "serve", "--model-dir", irisModelDir], { SAGEMAKER_BIND_TO_PORT: "8080" });
 * ```
 */
export function spawnNode(args: readonly string[], env: Record<string, string>): MeasuredChild {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let lines = 0;
  const listeners: ((line: string) => void)[] = [];
  const keep = (): ((chunk: Buffer) => void) => {
    // One partial line per stream, so lines of stdout and stderr never mix.
    let partial = "";
    return (chunk) => {
      const text = chunk.toString("utf8");
      for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
      output = (output + text).slice(-outputTailBytes);
      const complete = (partial + text).split("\n");
      partial = complete.pop() ?? "";
      for (const line of complete) for (const listener of listeners) listener(line);
    };
  };
  child.stdout.on("data", keep());
  child.stderr.on("data", keep());
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const pid = child.pid as number;
  return {
    child,
    pid,
    lines: () => lines,
    onLine: (listener) => void listeners.push(listener),
    output: () => output,
    cpuMs: () => {
      // /proc/<pid>/stat: fields 14 and 15 (utime, stime) in clock ticks, after the ")" of the name.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(")").at(-1)?.trim().split(" ") ?? [];
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
    },
    rssPeakBytes: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024,
    diskWriteBytes: () => Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0),
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return child.exitCode ?? child.signalCode ?? "unknown";
    },
  };
}

/**
 * The JSON log line `line` parsed, or undefined for any other output.
 *
 * @example
 * ```ts
 * server.onLine((line) => { if (logLine(line)?.["msg"] === "stopped") stopped = true; });
 * ```
 */
export function logLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Polls `url` until it answers 200, or fails with the child's output when the child exits or
 * `timeoutMs` passes.
 */
export async function waitUntilReady(url: string, server: MeasuredChild, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode}) before ${url} answered:\n${server.output()}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${server.output()}`);
}

/** Latencies of `GET /ping` sent one after another while an attack runs. */
export interface PingFigures {
  readonly sent: number;
  /** Pings that did not answer 200 within 2 s (SageMaker's health-check timeout). */
  readonly failed: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Sends `GET <url>/ping` every `intervalMs` (one at a time) until stopped, from a process of its
 * own (ping-child.ts), so the attack's load in this process cannot delay it; a ping counts as
 * failed when it does not answer 200 within 2 s.
 *
 * @example
 * ```ts
 * const pings = probePing(server.url);
 * await attack();
 * const { p99Ms, maxMs } = await pings.stop();
 * ```
 */
export function probePing(url: string, intervalMs = 50): { stop(): Promise<PingFigures> } {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("ping-child.ts", import.meta.url)), url, String(intervalMs)], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = once(child, "exit");
  return {
    async stop() {
      child.stdin.end();
      const [code] = (await exited) as [number | null];
      if (code !== 0) throw new Error(`the /ping probe exited with ${code}: ${output}`);
      const { latencies, failed } = JSON.parse(output) as { latencies: number[]; failed: number };
      return { sent: latencies.length, failed, p99Ms: percentile(latencies, 0.99), maxMs: Math.max(0, ...latencies) };
    },
  };
}

/** The `fraction` percentile (0-1) by nearest rank; 0 for no values. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

/** "12.3 MiB" */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** "1.23 s" or "45 ms" */
export function duration(ms: number): string {
  return ms >= 1_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}
