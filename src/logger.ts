import { pino, type Logger } from "pino";
import type { LogLevel } from "./config/server-config.js";

/**
 * Lines are gathered up to this many bytes and written together, or after
 * {@link flushIntervalMs} at the latest: one write per request line cost the HTTP thread about
 * 14% of its time under load (a `write` per line), and a line is never held longer than that.
 */
const bufferBytes = 8 * 1024;
const flushIntervalMs = 100;

/**
 * The toolkit's JSON logger: one line per event on stdout, as CloudWatch collects it.
 * Writes asynchronously in small batches; `await flushLog(logger)` before exiting.
 *
 * @example
 * ```ts
 * const log = createLogger("info");
 * log.info({ port: 8080 }, "listening");
 * ```
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stdoutDestination(),
  );
}

type Destination = ReturnType<typeof pino.destination>;
let stdout: Destination | undefined;

/** One buffered stdout writer per thread, shared by every logger made in it, with one flush timer. */
function stdoutDestination(): Destination {
  if (stdout !== undefined) return stdout;
  const destination = pino.destination({ dest: 1, sync: false, minLength: bufferBytes });
  setInterval(() => {
    try {
      destination.flush();
    } catch {
      // SonicBoom throws until its file descriptor is ready; the next tick writes.
    }
  }, flushIntervalMs).unref();
  stdout = destination;
  return destination;
}

/**
 * Writes out every buffered line; resolves once they are written (or the write failed).
 *
 * @example
 * ```ts
 * await flushLog(log);
 * process.exit(0);
 * ```
 */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
