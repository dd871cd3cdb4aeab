/**
 * A count of permits taken in arrival order: `MaxConcurrentTransforms` requests in flight across
 * every file of a job.
 *
 * @example
 * ```ts
 * const permits = new Semaphore(4);
 * const release = await permits.acquire(signal);
 * try { await send(); } finally { release(); }
 * ```
 */
export class Semaphore {
  #free: number;
  readonly #waiting: { grant: () => void; signal: AbortSignal; onAbort: () => void }[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Resolves with the release function once a permit is free; rejects with the signal's reason if it fires first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        signal,
        grant: () => resolve(this.#releaser()),
        onAbort: () => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(signal.reason as Error);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) {
        this.#free++;
        return;
      }
      next.signal.removeEventListener("abort", next.onAbort);
      next.grant();
    };
  }
}
