import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";

/**
 * Where a request is: waiting (or waiting to retry), running, or finished either way.
 *
 * @example
 * ```ts
 * const pending = queue.list(["queued", "running"] satisfies AsyncRequestStatus[]);
 * ```
 */
export type AsyncRequestStatus = "queued" | "running" | "completed" | "failed";

/**
 * Where its notification is.
 *
 * @example
 * ```ts
 * const unsent = record.notification?.status === ("pending" satisfies NotificationStatus);
 * ```
 */
export type NotificationStatus = "pending" | "sent" | "failed";

/**
 * One accepted InvokeEndpointAsync request and everything that happened to it. The queue keeps
 * it as one JSON file; every change replaces the file atomically.
 *
 * @example
 * ```ts
 * const queued = queue.get("my-inference-id")?.status; // "queued"
 * ```
 */
export interface AsyncRequestRecord {
  readonly inferenceId: string;
  readonly endpointName: string;
  readonly status: AsyncRequestStatus;
  /** When the gateway accepted it (ISO 8601); the RequestTTL counts from here. */
  readonly receivedTime: string;
  readonly inputLocation: string;
  readonly outputLocation: string;
  readonly failureLocation: string | undefined;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly customAttributes: string | undefined;
  readonly requestTtlSeconds: number;
  readonly invocationTimeoutSeconds: number;
  /** Times the worker started it; more than 1 after a transient failure or a restart. */
  readonly attempts: number;
  readonly startedTime?: string | undefined;
  /** While queued after a transient failure: not before this time (ISO 8601). */
  readonly retryAt?: string | undefined;
  /** The transient failure that sent it back to the queue. */
  readonly lastError?: string | undefined;
  /** When it finished (ISO 8601): the notification's `eventTime`. */
  readonly completedTime?: string | undefined;
  readonly responseContentType?: string | undefined;
  readonly failureReason?: string | undefined;
  /** The response (or failure) body, base64, kept for the notification when it is sent inline. */
  readonly inlineResponse?: string | undefined;
  readonly notification?:
    | { readonly status: NotificationStatus; readonly attempts: number; readonly messageId?: string | undefined; readonly error?: string | undefined }
    | undefined;
}

const recordSuffix = ".json";

/**
 * A durable queue on local disk: one file per request under `<dir>/requests/`, named after the
 * inference id (base64url). Each change writes a temporary file, fsyncs it, renames it over the
 * old one and fsyncs the directory, so a request accepted with 202 survives SIGKILL and power
 * loss in its last complete state. An in-memory index serves reads.
 *
 * @example
 * ```ts
 * const queue = await DurableQueue.open("/tmp/sagemaker-byoc-async", log);
 * await queue.put(record);
 * ```
 */
export class DurableQueue {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #records = new Map<string, AsyncRequestRecord>();
  /** The last write of each id: writes of one id apply in call order. */
  readonly #writes = new Map<string, Promise<void>>();
  readonly #listeners = new Set<(record: AsyncRequestRecord) => void>();

  private constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
  }

  /** Creates the directory if needed, removes half-written temporary files and loads every record. */
  static async open(dir: string, log: Logger): Promise<DurableQueue> {
    const queue = new DurableQueue(join(dir, "requests"), log);
    await mkdir(queue.#dir, { recursive: true });
    for (const name of await readdir(queue.#dir)) {
      if (!name.endsWith(recordSuffix)) await unlink(join(queue.#dir, name)).catch(() => undefined);
    }
    const records = await readQueueDirectory(dir, (file, error) => log.error({ err: error, file }, "unreadable async request record; left in place"));
    for (const record of records) queue.#records.set(record.inferenceId, record);
    return queue;
  }

  /** The directory holding the records. */
  get directory(): string {
    return this.#dir;
  }

  get(inferenceId: string): AsyncRequestRecord | undefined {
    return this.#records.get(inferenceId);
  }

  /** Every record, oldest first, optionally of some statuses only. */
  list(statuses?: readonly AsyncRequestStatus[]): AsyncRequestRecord[] {
    const all = [...this.#records.values()];
    const chosen = statuses === undefined ? all : all.filter((record) => statuses.includes(record.status));
    return chosen.sort(byReceipt);
  }

  /**
   * Stores a record durably. The index changes at once (so a second request with the same id
   * sees it); the promise settles when the file is on disk.
   */
  put(record: AsyncRequestRecord): Promise<void> {
    this.#records.set(record.inferenceId, record);
    const written = this.#chain(record.inferenceId, () => this.#write(record));
    void written.then(() => {
      for (const listener of this.#listeners) listener(record);
    }, () => undefined);
    return written;
  }

  /** Calls `listener` with each record once it is on disk; returns the function that unsubscribes. */
  onChange(listener: (record: AsyncRequestRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Settles when every write of this id started so far is on disk. */
  settled(inferenceId: string): Promise<void> {
    return this.#writes.get(inferenceId) ?? Promise.resolve();
  }

  /** Deletes finished records older than `retentionMs` whose notification is not pending. */
  async prune(retentionMs: number, now: number): Promise<number> {
    let removed = 0;
    for (const record of [...this.#records.values()]) {
      const finished = record.status === "completed" || record.status === "failed";
      if (!finished || record.notification?.status === "pending") continue;
      if (now - Date.parse(record.completedTime ?? record.receivedTime) < retentionMs) continue;
      this.#records.delete(record.inferenceId);
      await this.#chain(record.inferenceId, () => unlink(this.#pathOf(record.inferenceId)).catch(() => undefined));
      removed++;
    }
    if (removed > 0) this.#log.info({ removed }, "pruned finished async requests");
    return removed;
  }

  #chain(inferenceId: string, step: () => Promise<void>): Promise<void> {
    const previous = this.#writes.get(inferenceId) ?? Promise.resolve();
    const next = previous.then(step, step);
    this.#writes.set(inferenceId, next);
    void next.then(
      () => this.#forget(inferenceId, next),
      () => this.#forget(inferenceId, next),
    );
    return next;
  }

  #forget(inferenceId: string, write: Promise<void>): void {
    if (this.#writes.get(inferenceId) === write) this.#writes.delete(inferenceId);
  }

  async #write(record: AsyncRequestRecord): Promise<void> {
    const path = this.#pathOf(record.inferenceId);
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.writeFile(JSON.stringify(record));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    // The rename is durable only once the directory entry is.
    const directory = await open(this.#dir, "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  #pathOf(inferenceId: string): string {
    return join(this.#dir, Buffer.from(inferenceId).toString("base64url") + recordSuffix);
  }
}

/**
 * Reads the records of a queue directory without changing anything, so it is safe while a
 * gateway runs on it (the `async-requests` command). Oldest first; none when it does not exist.
 *
 * @example
 * ```ts
 * const records = await readQueueDirectory("/tmp/sagemaker-byoc-async");
 * ```
 */
export async function readQueueDirectory(dir: string, onUnreadable: (file: string, error: unknown) => void = () => undefined): Promise<AsyncRequestRecord[]> {
  const requests = join(dir, "requests");
  const names = await readdir(requests).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const records: AsyncRequestRecord[] = [];
  for (const name of names) {
    if (!name.endsWith(recordSuffix)) continue;
    const file = join(requests, name);
    try {
      records.push(JSON.parse(await readFile(file, "utf8")) as AsyncRequestRecord);
    } catch (error) {
      onUnreadable(file, error);
    }
  }
  return records.sort(byReceipt);
}

/**
 * What listings show: the record without the inline response body (payloads are not exposed).
 *
 * @example
 * ```ts
 * response.json(publicView(record));
 * ```
 */
export function publicView(record: AsyncRequestRecord): Omit<AsyncRequestRecord, "inlineResponse"> {
  const { inlineResponse: _body, ...view } = record;
  return view;
}

function byReceipt(a: AsyncRequestRecord, b: AsyncRequestRecord): number {
  return a.receivedTime.localeCompare(b.receivedTime) || a.inferenceId.localeCompare(b.inferenceId);
}
