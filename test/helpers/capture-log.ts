/**
 * A real pino logger whose destination stream keeps every record, so tests can assert on what
 * was logged.
 */
import { pino, type Logger } from "pino";

/**
 * One logged line, parsed; `level` is pino's label ("warn", "info"...).
 *
 * @example
 * ```ts
 * const warning: LogRecord = { level: "warn", msg: "...", provider: "cuda" };
 * ```
 */
export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/**
 * A debug-level logger and the records it has written so far.
 *
 * @example
 * ```ts
 * const { log, records } = captureLog();
 * log.warn({ provider: "cuda" }, "cannot load");
 * records.filter((record) => record.level === "warn"); // [{ level: "warn", provider: "cuda", msg: "cannot load", ... }]
 * ```
 */
export function captureLog(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const destination = { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) };
  const log = pino({ level: "debug", formatters: { level: (label) => ({ level: label }) } }, destination);
  return { log, records };
}
