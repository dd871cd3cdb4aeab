import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.js";

/**
 * The toolkit's JSON logger: one line per event on stdout, as CloudWatch collects it.
 * Writes asynchronously; call `logger.flush()` before exiting.
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
    pino.destination({ dest: 1, sync: false, minLength: 0 }),
  );
}
