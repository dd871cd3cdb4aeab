import type { Logger } from "pino";
import type { BackoffOptions } from "./retry.js";

/**
 * Options of a {@link CircuitBreaker}.
 *
 * @example
 * ```ts
 * const options: CircuitBreakerOptions = { dependency: "S3", backoff: { baseMs: 500, maxMs: 30_000 }, now: Date.now, log };
 * ```
 */
export interface CircuitBreakerOptions {
  /** The dependency's name in log lines: `S3`, `SNS`. */
  readonly dependency: string;
  /** Spacing of the probes while the dependency fails. */
  readonly backoff: BackoffOptions;
  readonly now: () => number;
  readonly log: Logger;
  /** Called when the dependency answers again, so waiting work can start. */
  readonly onRecovery?: () => void;
}

/**
 * Tracks whether a dependency (S3, SNS) answers, so that many waiting requests back off together
 * instead of each retrying on its own: with 20,000 requests queued and S3 down, one probe per
 * backoff step instead of hundreds of attempts per second (docs/async.md, "Retries").
 *
 * Closed while the dependency answers (any answer, an error such as NoSuchKey included: it came
 * from the dependency). The first transient failure opens it; while open, callers let one probe
 * through once {@link probeAt} has passed, each further failure pushes the next probe out
 * exponentially (with jitter, at least half the ceiling), and the first answer closes it again.
 * Which call is the probe is the callers' choice: the breaker only keeps the time.
 *
 * @example
 * ```ts
 * const s3Breaker = new CircuitBreaker({ dependency: "S3", backoff, now: Date.now, log, onRecovery: () => worker.wake() });
 * if (!s3Breaker.isOpen || Date.now() >= s3Breaker.probeAt) startOne();
 * ```
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  #failures = 0;
  #openedAt = 0;
  #probeAt = 0;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
  }

  /** True while the dependency fails: only probes should call it. */
  get isOpen(): boolean {
    return this.#failures > 0;
  }

  /** While open, the earliest time (ms since the epoch) of the next probe. */
  get probeAt(): number {
    return this.#probeAt;
  }

  /** Records an answer from the dependency; closes the breaker if it was open. */
  succeeded(): void {
    if (this.#failures === 0) return;
    const { dependency, log, now, onRecovery } = this.#options;
    log.info({ dependency, failedAttempts: this.#failures, outageSeconds: Math.round((now() - this.#openedAt) / 1000) }, `${dependency} answers again; waiting work resumes`);
    this.#failures = 0;
    onRecovery?.();
  }

  /** Records a transient failure (no answer, 5xx, throttling); opens the breaker or pushes the next probe out. */
  failed(error: unknown): void {
    const { dependency, log, now, backoff } = this.#options;
    const at = now();
    if (this.#failures === 0) {
      this.#openedAt = at;
      log.warn({ dependency, err: error }, `${dependency} is failing; waiting work backs off and probes it with one request at a time`);
    }
    const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    this.#probeAt = at + Math.floor(ceiling * (0.5 + (backoff.random ?? Math.random)() / 2));
  }
}
