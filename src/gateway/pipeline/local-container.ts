import { spawn } from "node:child_process";
import { once } from "node:events";
import { stat } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ConfigurationError } from "../../errors.js";

/**
 * A container the gateway started: `sagemaker-byoc serve` for a model directory, in a child
 * process listening on 127.0.0.1 at the port SageMaker would give it in `SAGEMAKER_BIND_TO_PORT`.
 *
 * @example
 * ```ts
 * const container: LocalContainer = await startLocalContainer({ hostname: "model", modelDir: "./model", environment: {} }, options);
 * await container.stop(25_000);
 * ```
 */
export interface LocalContainer {
  readonly hostname: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Settles when the process exits, with its code or signal. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL when it has not exited after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<void>;
}

/**
 * A line a container wrote, for the gateway to pass on.
 *
 * @example
 * ```ts
 * const onOutput = (line: ContainerOutput) => process.stdout.write(`${line.text}\n`);
 * ```
 */
export interface ContainerOutput {
  readonly container: string;
  readonly stream: "stdout" | "stderr";
  /** One line without its newline; a JSON log line carries `"container":"<hostname>"` first. */
  readonly text: string;
}

/**
 * How to start a local container.
 *
 * @example
 * ```ts
 * const options: LocalContainerOptions = { env: process.env, startupTimeoutMs: 240_000, onOutput: (line) => console.log(line.text) };
 * ```
 */
export interface LocalContainerOptions {
  /** The variables every container inherits (PATH, HOME...); the container's own come on top. */
  readonly env: NodeJS.ProcessEnv;
  /** How long it may take to answer `/ping` 200. */
  readonly startupTimeoutMs: number;
  readonly onOutput: (line: ContainerOutput) => void;
}

/** Variables of the gateway itself or of the port and directory it sets: never inherited. */
const notInherited = /^(?:BYOC_PIPELINE_|SAGEMAKER_BIND_TO_PORT$|BYOC_HOST$|BYOC_MODEL_DIR$)/;
const pollIntervalMs = 100;
const outputTailLines = 20;

/**
 * Starts `serve` for `container.modelDir` on a free loopback port, with the variables SageMaker
 * gives a container of a pipeline (`SAGEMAKER_BIND_TO_PORT`) and the container's own, and waits
 * until its `/ping` answers 200. Rejects, with the process stopped, when the directory does not
 * exist, the process exits first (the error ends with its last lines of output) or the start-up
 * time runs out.
 *
 * @example
 * ```ts
 * const model = await startLocalContainer({ hostname: "model", modelDir: "/srv/model", environment: { SAGEMAKER_MODEL_SERVER_WORKERS: "1" } }, options);
 * ```
 */
export async function startLocalContainer(
  container: { readonly hostname: string; readonly modelDir: string; readonly environment: Readonly<Record<string, string>> },
  options: LocalContainerOptions,
): Promise<LocalContainer> {
  const { hostname, modelDir } = container;
  const found = await stat(modelDir).catch(() => undefined);
  if (found?.isDirectory() !== true) throw new ConfigurationError(`Container ${hostname}: ${modelDir} is not a model directory (nor an http:// URL)`);
  const port = await freeLoopbackPort();
  const inherited = Object.fromEntries(Object.entries(options.env).filter(([name]) => !notInherited.test(name)));
  const { file, execArgv } = cliEntry();
  const child = spawn(process.execPath, [...execArgv, file, "serve"], {
    env: { ...inherited, ...container.environment, SAGEMAKER_BIND_TO_PORT: String(port), BYOC_HOST: "127.0.0.1", BYOC_MODEL_DIR: modelDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const tail: string[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    forwardLines(child[stream], (text) => {
      tail.push(text);
      if (tail.length > outputTailLines) tail.shift();
      options.onOutput({ container: hostname, stream, text: tagged(text, hostname) });
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async (graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntilReady(url, exited, options.startupTimeoutMs, () => `container ${hostname} (${modelDir})`, () => tail.join("\n"));
  } catch (error) {
    await stop(0);
    throw error;
  }
  return { hostname, url, port, pid: child.pid as number, exited, stop };
}

/** The CLI to run `serve` with: the compiled one beside this module, or the TypeScript source under tsx. */
function cliEntry(): { file: string; execArgv: readonly string[] } {
  const source = fileURLToPath(import.meta.url).endsWith(".ts");
  return { file: fileURLToPath(new URL(source ? "../../cli.ts" : "../../cli.js", import.meta.url)), execArgv: source ? ["--import", "tsx"] : [] };
}

async function waitUntilReady(
  url: string,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  timeoutMs: number,
  describe: () => string,
  output: () => string,
): Promise<void> {
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((value) => (exit = value));
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exit !== undefined) {
      throw new Error(`${describe()} exited (${exit.signal ?? `code ${exit.code}`}) before it was ready. Its last output:\n${output()}`);
    }
    const answer = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => ({ status: response.status, body: await response.text() }),
      () => ({ status: 0, body: "" }),
    );
    if (answer.status === 200) return;
    const failure = loadFailure(answer.body);
    if (failure !== undefined) throw new Error(`${describe()} cannot serve: ${failure}`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
  throw new Error(`${describe()} did not answer /ping 200 within ${timeoutMs / 1000} s (BYOC_PIPELINE_STARTUP_TIMEOUT_SECONDS). Its last output:\n${output()}`);
}

/**
 * The reason in a `/ping` 503 of this toolkit's server whose model failed to load: a state it
 * never leaves, so waiting for the start-up time to run out would only delay the error.
 */
function loadFailure(pingBody: string): string | undefined {
  try {
    const message = (JSON.parse(pingBody) as { error?: { message?: unknown } }).error?.message;
    return typeof message === "string" && message.startsWith("Model failed to load") ? message : undefined;
  } catch {
    return undefined;
  }
}

function forwardLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line !== "") onLine(line);
  });
  stream.on("end", () => {
    if (partial !== "") onLine(partial);
  });
}

/** A JSON log line gets the container's hostname as its first field; other lines a `[hostname]` prefix. */
function tagged(line: string, hostname: string): string {
  return line.startsWith('{"') ? `{"container":${JSON.stringify(hostname)},${line.slice(1)}` : `[${hostname}] ${line}`;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}
