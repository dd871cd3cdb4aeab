import { OverloadedError } from "../errors.js";

interface Waiter {
  readonly bytes: number;
  readonly admit: () => void;
}

/**
 * Admission control for request bodies: at most `maxRequests` requests in flight or waiting
 * (beyond that, {@link OverloadedError}: 503 with Retry-After), and at most `maxBytes` of bodies
 * in flight, answers still being written included ({@link Admission.hold}). A request that would
 * pass the byte budget waits, first come first served, without its body being read, so TCP flow
 * control slows its client instead of the process holding it; its time limit still runs. A body larger than the whole budget (but within the payload limit)
 * is admitted once nothing else is in flight, so it never waits forever.
 *
 * @example
 * ```ts
 * const admission = new Admission({ maxRequests: 256, maxBytes: 256 << 20 });
 * const release = await admission.acquire(6 << 20, signal);
 * try { ... } finally { release(); }
 * ```
 */
export class Admission {
  readonly #maxRequests: number;
  readonly #maxBytes: number;
  readonly #waiting: Waiter[] = [];
  #requests = 0;
  #admittedBytes = 0;
  #admitted = 0;

  constructor(limits: { readonly maxRequests: number; readonly maxBytes: number }) {
    this.#maxRequests = limits.maxRequests;
    this.#maxBytes = limits.maxBytes;
  }

  /** Requests admitted or waiting. */
  get requests(): number {
    return this.#requests;
  }

  /** Body bytes admitted and not yet released. */
  get admittedBytes(): number {
    return this.#admittedBytes;
  }

  /**
   * Resolves with the release function once `bytes` fit; rejects at once when too many requests
   * are in flight, or with the signal's reason when it fires while waiting.
   */
  acquire(bytes: number, signal: AbortSignal): Promise<() => void> {
    if (this.#requests >= this.#maxRequests) {
      return Promise.reject(new OverloadedError(`More than ${this.#maxRequests} requests in flight; retry shortly`));
    }
    this.#requests++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#requests--;
      this.#admitted--;
      this.#admittedBytes -= bytes;
      this.#admitNext();
    };
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#take(bytes);
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        admit: () => {
          signal.removeEventListener("abort", onAbort);
          this.#take(bytes);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        this.#requests--;
        this.#admitNext();
        reject(signal.reason as Error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /**
   * Counts `bytes` against the byte budget at once, without waiting, until the returned function is
   * called: an answer made already but still being written to a slow client holds memory too.
   */
  hold(bytes: number): () => void {
    this.#take(bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#admitted--;
      this.#admittedBytes -= bytes;
      this.#admitNext();
    };
  }

  #fits(bytes: number): boolean {
    return this.#admitted === 0 || this.#admittedBytes + bytes <= this.#maxBytes;
  }

  #take(bytes: number): void {
    this.#admitted++;
    this.#admittedBytes += bytes;
  }

  #admitNext(): void {
    while (this.#waiting.length > 0 && this.#fits((this.#waiting[0] as Waiter).bytes)) (this.#waiting.shift() as Waiter).admit();
  }
}
