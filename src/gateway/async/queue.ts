import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { acquireQueueLock, type QueueLock } from "./queue-lock.js";

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
 * const status = queue.get("my-inference-id")?.status; // "queued"
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
  /** Times an HTTP container closed the connection after taking the request, without answering. */
  readonly droppedInvocations?: number | undefined;
  /** When it finished (ISO 8601): the notification's `eventTime`. */
  readonly completedTime?: string | undefined;
  readonly responseContentType?: string | undefined;
  readonly failureReason?: string | undefined;
  /** The response (or failure) body, base64, kept until the notification that carries it inline is sent or given up. */
  readonly inlineResponse?: string | undefined;
  readonly notification?:
    | { readonly status: NotificationStatus; readonly attempts: number; readonly messageId?: string | undefined; readonly error?: string | undefined }
    | undefined;
}

/** Every status, in the order a request goes through them. */
export const asyncRequestStatuses: readonly AsyncRequestStatus[] = ["queued", "running", "completed", "failed"];

const recordSuffix = ".json";
const temporarySuffix = ".tmp";

/**
 * A durable queue on local disk: one file per request under `<dir>/requests/`, named after the
 * inference id (lowercase hex of its UTF-8 bytes, so ids that differ only in case stay apart on
 * case-insensitive filesystems). Each change writes a temporary file, fsyncs it, renames it over
 * the old one and fsyncs the directory, so a request accepted with 202 survives SIGKILL and power
 * loss in its last complete state. An in-memory index serves reads; it changes only once a write
 * is on disk, so what it shows is always what a restart would find. The directory is locked
 * ({@link acquireQueueLock}) while the queue is open.
 *
 * @example
 * ```ts
 * const queue = await DurableQueue.open("/tmp/sagemaker-byoc-async/my-endpoint", log, "my-endpoint");
 * await queue.put(record);
 * await queue.close();
 * ```
 */
export class DurableQueue {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #lock: QueueLock;
  readonly #records = new Map<string, AsyncRequestRecord>();
  /** The same records by status, so the worker finds queued ones without scanning finished ones. */
  readonly #byStatus = new Map<AsyncRequestStatus, Map<string, AsyncRequestRecord>>(asyncRequestStatuses.map((status) => [status, new Map()]));
  /** The last write of each id: writes of one id apply in call order. */
  readonly #writes = new Map<string, Promise<void>>();
  readonly #listeners = new Set<(record: AsyncRequestRecord) => void>();

  private constructor(dir: string, log: Logger, lock: QueueLock) {
    this.#dir = dir;
    this.#log = log;
    this.#lock = lock;
  }

  /**
   * Creates the directory if needed, locks it, removes half-written temporary files (safe: no
   * other process writes there) and loads the records of `endpointName`. Records of another
   * endpoint (a directory used before under another name) are left on disk untouched, with a
   * warning.
   */
  static async open(dir: string, log: Logger, endpointName: string): Promise<DurableQueue> {
    const requests = join(dir, "requests");
    await mkdir(requests, { recursive: true });
    const lock = await acquireQueueLock(dir);
    try {
      const queue = new DurableQueue(requests, log, lock);
      await queue.#load(endpointName);
      return queue;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** The directory holding the records. */
  get directory(): string {
    return this.#dir;
  }

  get(inferenceId: string): AsyncRequestRecord | undefined {
    return this.#records.get(inferenceId);
  }

  /** How many records have one of `statuses`, without listing them. */
  count(statuses: readonly AsyncRequestStatus[]): number {
    let total = 0;
    for (const status of new Set(statuses)) total += this.#byStatus.get(status)?.size ?? 0;
    return total;
  }

  /** Every record, oldest first, optionally of some statuses only (a sort: for listings, not hot paths). */
  list(statuses: readonly AsyncRequestStatus[] = asyncRequestStatuses): AsyncRequestRecord[] {
    const chosen: AsyncRequestRecord[] = [];
    for (const status of new Set(statuses)) chosen.push(...(this.#byStatus.get(status)?.values() ?? []));
    return chosen.sort(byReceipt);
  }

  /**
   * Stores a record durably. The promise settles when the file is on disk; only then do reads
   * and listeners see the change. On failure (disk full, I/O error) nothing changes.
   */
  put(record: AsyncRequestRecord): Promise<void> {
    return this.#chain(record.inferenceId, async () => {
      await this.#write(record);
      this.#index(record);
      for (const listener of this.#listeners) {
        try {
          listener(record);
        } catch (error) {
          this.#log.error({ err: error, inferenceId: record.inferenceId }, "an async queue listener failed");
        }
      }
    });
  }

  /** Calls `listener` with each record once it is on disk; returns the function that unsubscribes. */
  onChange(listener: (record: AsyncRequestRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Deletes finished records older than `retentionMs` whose notification is not pending. */
  async prune(retentionMs: number, now: number): Promise<number> {
    let removed = 0;
    for (const record of this.list(["completed", "failed"])) {
      if (record.notification?.status === "pending") continue;
      if (now - Date.parse(record.completedTime ?? record.receivedTime) < retentionMs) continue;
      this.#unindex(record);
      await this.#chain(record.inferenceId, () => unlink(this.#pathOf(record.inferenceId)).catch(() => undefined));
      removed++;
    }
    if (removed > 0) this.#log.info({ removed }, "pruned finished async requests");
    return removed;
  }

  /** Waits for the writes under way, then releases the directory's lock. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#writes.values());
    await this.#lock.release();
  }

  async #load(endpointName: string): Promise<void> {
    for (const name of await readdir(this.#dir)) {
      if (name.endsWith(temporarySuffix)) await unlink(join(this.#dir, name)).catch(() => undefined);
    }
    const files = await readRecordFiles(this.#dir, (file, error) => this.#log.error({ err: error, file }, "unreadable async request record; left in place"));
    const others = new Set<string>();
    let skipped = 0;
    for (const { file, record } of files) {
      if (record.endpointName !== endpointName) {
        others.add(record.endpointName);
        skipped++;
        continue;
      }
      // Files named by an earlier version (base64url) move to today's name, so each id has one file.
      const path = this.#pathOf(record.inferenceId);
      if (file !== path) await rename(file, path);
      this.#index(record);
    }
    if (skipped > 0) {
      this.#log.warn(
        { queueDir: dirname(this.#dir), skipped, endpointNames: [...others], endpointName },
        "the queue directory holds requests of other endpoints; they are left on disk and not processed (give each endpoint its own queue directory)",
      );
    }
  }

  #index(record: AsyncRequestRecord): void {
    const previous = this.#records.get(record.inferenceId);
    if (previous !== undefined) this.#byStatus.get(previous.status)?.delete(record.inferenceId);
    this.#records.set(record.inferenceId, record);
    this.#byStatus.get(record.status)?.set(record.inferenceId, record);
  }

  #unindex(record: AsyncRequestRecord): void {
    this.#records.delete(record.inferenceId);
    this.#byStatus.get(record.status)?.delete(record.inferenceId);
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
    const temporary = `${path}.${randomBytes(6).toString("hex")}${temporarySuffix}`;
    try {
      const file = await open(temporary, "w");
      try {
        await file.writeFile(JSON.stringify(record));
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    // The rename is durable only once the directory entry is.
    const directory = await open(this.#dir, "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  #pathOf(inferenceId: string): string {
    return join(this.#dir, Buffer.from(inferenceId, "utf8").toString("hex") + recordSuffix);
  }
}

/**
 * Reads the records of a queue directory without changing anything, so it is safe while a
 * gateway runs on it (the `async-requests` command). Oldest first; none when it does not exist.
 *
 * @example
 * ```ts
 * const records = await readQueueDirectory("/tmp/sagemaker-byoc-async/local-endpoint");
 * ```
 */
export async function readQueueDirectory(dir: string, onUnreadable: (file: string, error: unknown) => void = () => undefined): Promise<AsyncRequestRecord[]> {
  const files = await readRecordFiles(join(dir, "requests"), onUnreadable);
  return files.map(({ record }) => record).sort(byReceipt);
}

async function readRecordFiles(requests: string, onUnreadable: (file: string, error: unknown) => void): Promise<Array<{ file: string; record: AsyncRequestRecord }>> {
  const names = await readdir(requests).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const files: Array<{ file: string; record: AsyncRequestRecord }> = [];
  for (const name of names) {
    if (!name.endsWith(recordSuffix)) continue;
    const file = join(requests, name);
    try {
      files.push({ file, record: JSON.parse(await readFile(file, "utf8")) as AsyncRequestRecord });
    } catch (error) {
      onUnreadable(file, error);
    }
  }
  return files;
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
