import type { Logger } from "pino";

/**
 * Counts retried failures and logs them as one line per interval instead of one line per retry:
 * with S3 down and thousands of requests waiting, a line per retry is a flood that hides what
 * matters (docs/async.md, "Retries"). Each retry can still be seen at the `debug` level.
 *
 * @example
 * ```ts
 * const summary = new RetrySummary(log, "async worker", 60_000);
 * summary.record("s3-read", error);
 * summary.close(); // logs what is left
 * ```
 */
export class RetrySummary {
  readonly #log: Logger;
  readonly #component: string;
  readonly #counts = new Map<string, number>();
  readonly #lastErrors = new Map<string, string>();
  readonly #timer: NodeJS.Timeout;

  constructor(log: Logger, component: string, intervalMs: number) {
    this.#log = log;
    this.#component = component;
    this.#timer = setInterval(() => this.flush(), intervalMs).unref();
  }

  /** Counts one retry of `kind` (`s3-read`, `s3-write`, `sns`...) and keeps its error as the latest. */
  record(kind: string, error: unknown): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    this.#lastErrors.set(kind, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }

  /** Logs the retries counted since the last line, if any. */
  flush(): void {
    if (this.#counts.size === 0) return;
    this.#log.warn(
      { component: this.#component, retries: Object.fromEntries(this.#counts), lastErrors: Object.fromEntries(this.#lastErrors) },
      "transient failures since the last summary; retrying with backoff",
    );
    this.#counts.clear();
    this.#lastErrors.clear();
  }

  /** Logs what is left and stops the timer. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}
