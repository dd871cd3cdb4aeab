import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { delimiter, join } from "node:path";
import type { Env } from "../config/resolve.js";
import { CommandFailedError } from "./errors.js";
import { interruptCleanup } from "./interrupt-cleanup.js";
import { formatSeconds } from "./timed-step.js";

/**
 * Where build and push tell the user what they do: one line at a time (the CLI writes them to
 * stderr; tests collect them).
 *
 * @example
 * ```ts
 * const report: Report = (line) => process.stderr.write(`${line}\n`);
 * ```
 */
export type Report = (line: string) => void;

/**
 * How {@link CommandRunner.run} runs one command.
 *
 * @example
 * ```ts
 * const options: RunOptions = { cwd: "/tmp/context", stream: true, env: { ONNXRUNTIME_NODE_INSTALL: "skip" } };
 * ```
 */
export interface RunOptions {
  /** Working directory; the current one by default. */
  readonly cwd?: string;
  /** Written to the command's stdin, which is then closed. Secrets go here, never in `args`. */
  readonly input?: string;
  /** Report every output line as it arrives (long steps: installs, builds, pushes). */
  readonly stream?: boolean;
  /** Print the command line before running it; true by default. Probes (`docker info`) turn it off. */
  readonly announce?: boolean;
  /** Resolve with the exit code instead of throwing {@link CommandFailedError} when it is not 0. */
  readonly allowFailure?: boolean;
  /** Variables added to the runner's environment for this command. */
  readonly env?: Env;
  /**
   * Kill the command (SIGKILL) and throw {@link CommandFailedError} when it has not ended after
   * this many milliseconds. No limit by default: installs, builds and pushes take what they take.
   */
  readonly timeoutMs?: number;
}

/**
 * What a command printed and how it ended.
 *
 * @example
 * ```ts
 * const { exitCode, stdout }: CommandOutput = await runner.run("git", ["rev-parse", "HEAD"]);
 * ```
 */
export interface CommandOutput {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const tailLines = 40;

/**
 * Runs the external tools build and push rely on (npm, docker, buildah, git) with one
 * environment, printing each command line before it runs and, for long steps, every line of its
 * output as it comes. A failure throws {@link CommandFailedError} with the last lines printed.
 * A command still running when the process gets SIGINT or SIGTERM is stopped with SIGTERM
 * ({@link interruptCleanup}), so no npm or buildah outlives an interrupted build or push.
 *
 * @example
 * ```ts
 * const runner = new CommandRunner(process.env, (line) => console.error(line));
 * await runner.run("buildah", ["build", "-t", "app:1.0.0", "."], { stream: true });
 * ```
 */
export class CommandRunner {
  readonly #env: Env;
  /** Where command lines, their output and progress go. */
  readonly report: Report;

  constructor(env: Env, report: Report) {
    this.#env = env;
    this.report = report;
  }

  /** The absolute path of `command` on the runner's `PATH`, or `undefined`. */
  async which(command: string): Promise<string | undefined> {
    for (const dir of (this.#env["PATH"] ?? "").split(delimiter)) {
      if (dir === "") continue;
      const candidate = join(dir, command);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not in this directory
      }
    }
    return undefined;
  }

  /**
   * Starts `command` with the runner's environment, its output going straight to this process's
   * stdout and stderr (a container's logs, followed). It gets a process group of its own, so a
   * terminal's Ctrl-C reaches this process only, which then stops the command its own way.
   */
  start(command: string, args: readonly string[]): ForegroundCommand {
    this.report(`$ ${formatCommand(command, args)}`);
    const child = spawn(command, args, { env: this.#env, stdio: ["ignore", "inherit", "inherit"], detached: true });
    const exited = new Promise<number>((resolve) => {
      child.once("error", (error) => {
        this.report(`${command} could not start: ${error.message}`);
        resolve(127);
      });
      child.once("exit", (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : osConstants.signals[signal])));
    });
    return {
      pid: child.pid,
      exited,
      kill: (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  }

  /** Runs `command` with `args` and waits for it to end. */
  run(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    const commandLine = formatCommand(command, args);
    if (options.announce ?? true) this.report(`$ ${commandLine}`);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...this.#env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stdout: string[] = [];
    const stderr: string[] = [];
    const tail = new OutputTail(tailLines);
    const collect = (stream: "stdout" | "stderr", sink: string[]) => (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      sink.push(text);
      for (const line of tail.add(stream, text)) if (options.stream === true) this.report(`  ${line}`);
    };
    child.stdout.on("data", collect("stdout", stdout));
    child.stderr.on("data", collect("stderr", stderr));
    child.stdin.on("error", () => {
      // A command that exits without reading its input; its exit code tells what happened.
    });
    child.stdin.end(options.input ?? "");
    const releaseOnInterrupt = interruptCleanup.register(() => child.kill("SIGTERM"));
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
            // A grandchild may hold the pipes open; without them "close" follows the exit at once.
            child.stdout.destroy();
            child.stderr.destroy();
          }, options.timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      releaseOnInterrupt();
    };
    return new Promise((resolve, reject) => {
      child.once("error", (error: NodeJS.ErrnoException) => {
        settle();
        const reason = error.code === "ENOENT" ? "could not start: command not found" : `could not start: ${error.message}`;
        reject(new CommandFailedError(commandLine, null, "", { cause: error, reason }));
      });
      child.once("close", (code, signal) => {
        settle();
        for (const last of tail.flush()) if (options.stream === true) this.report(`  ${last}`);
        const output = { exitCode: code ?? -1, stdout: stdout.join(""), stderr: stderr.join("") };
        if (timedOut) {
          reject(new CommandFailedError(commandLine, null, tail.lines().join("\n"), { reason: `did not finish within ${formatSeconds(options.timeoutMs ?? 0)}` }));
          return;
        }
        if (code === 0 || (options.allowFailure === true && code !== null)) {
          resolve(output);
          return;
        }
        const reason = code === null ? `was killed by ${signal}` : undefined;
        reject(new CommandFailedError(commandLine, code, tail.lines().join("\n"), reason === undefined ? {} : { reason }));
      });
    });
  }
}

/**
 * A command started by {@link CommandRunner.start}, its output going straight to this process's.
 *
 * @example
 * ```ts
 * const { pid, exited } = runner.start("buildah", ["run", container, "--", "/opt/program/serve", "serve"]);
 * ```
 */
export interface ForegroundCommand {
  readonly pid: number | undefined;
  /** Settles with the exit code, 128 + the signal's number when a signal ended it, or 127 when it could not start. */
  readonly exited: Promise<number>;
  /** Sends `signal` to the command itself, if it still runs. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * A command line as a shell would read it back, for the user to copy: arguments with spaces or
 * quotes are single-quoted.
 *
 * @example
 * ```ts
 * formatCommand("docker", ["build", "-t", "app:1", "my dir"]); // "docker build -t app:1 'my dir'"
 * ```
 */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(shellQuote).join(" ");
}

/**
 * One word as a POSIX shell reads it back: as it is when it holds only characters no shell
 * treats specially, else single-quoted (a quote inside becomes `'\\''`).
 *
 * @example
 * ```ts
 * shellQuote("s3://models/iris/model.tar.gz"); // "s3://models/iris/model.tar.gz"
 * shellQuote("it's $HOME"); // "'it'\\''s $HOME'"
 * ```
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The last lines of a command's output. Each stream is split into lines on its own (on newlines
 * and carriage returns, which progress bars use); the lines of both are kept in arrival order.
 */
class OutputTail {
  readonly #max: number;
  readonly #lines: string[] = [];
  readonly #partial = { stdout: "", stderr: "" };

  constructor(max: number) {
    this.#max = max;
  }

  /** Adds a chunk of one stream; returns the lines it completed. */
  add(stream: "stdout" | "stderr", text: string): string[] {
    const parts = (this.#partial[stream] + text).split(/\r\n|\r|\n/);
    this.#partial[stream] = parts.pop() ?? "";
    const complete = parts.filter((line) => line.trim() !== "");
    for (const line of complete) this.#remember(line);
    return complete;
  }

  /** Ends the output; returns the unterminated last lines, if any. */
  flush(): string[] {
    const last = [this.#partial.stdout, this.#partial.stderr].filter((line) => line.trim() !== "");
    this.#partial.stdout = "";
    this.#partial.stderr = "";
    for (const line of last) this.#remember(line);
    return last;
  }

  lines(): readonly string[] {
    return this.#lines;
  }

  #remember(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#max) this.#lines.shift();
  }
}
