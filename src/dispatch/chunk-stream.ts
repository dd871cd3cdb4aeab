/**
 * A response stream arriving from a worker thread, read once by the HTTP layer: chunks queue as
 * they arrive; each one taken is acknowledged (`onTaken`), which lets the worker send the next;
 * leaving early (`return`, a `break` in `for await`) calls `onCancel` so the worker stops the
 * handler's iterator.
 *
 * @example
 * ```ts
 * const stream = new ChunkStream(() => ack(id), () => cancel(id));
 * stream.push("a"); stream.end();
 * for await (const chunk of stream) write(chunk);
 * ```
 */
export class ChunkStream implements AsyncIterable<Uint8Array | string> {
  readonly #queue: (Uint8Array | string)[] = [];
  readonly #onTaken: () => void;
  readonly #onCancel: () => void;
  #ended = false;
  #failure: Error | undefined;
  #waiter: (() => void) | undefined;
  #done = false;

  constructor(onTaken: () => void, onCancel: () => void) {
    this.#onTaken = onTaken;
    this.#onCancel = onCancel;
  }

  push(chunk: Uint8Array | string): void {
    this.#queue.push(chunk);
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array | string> {
    return {
      next: async () => {
        for (;;) {
          if (this.#done) return { done: true, value: undefined };
          const chunk = this.#queue.shift();
          if (chunk !== undefined) {
            this.#onTaken();
            return { done: false, value: chunk };
          }
          if (this.#failure !== undefined) {
            this.#done = true;
            throw this.#failure;
          }
          if (this.#ended) {
            this.#done = true;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (this.#waiter = resolve));
        }
      },
      return: async () => {
        if (!this.#done && !this.#ended && this.#failure === undefined) this.#onCancel();
        this.#done = true;
        this.#queue.length = 0;
        this.#wake();
        return { done: true, value: undefined };
      },
    };
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}
