import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ConfigurationError } from "../../errors.js";

/**
 * An exclusive claim on a queue directory, held while a gateway runs on it.
 *
 * @example
 * ```ts
 * const lock = await acquireQueueLock("/var/lib/sagemaker-byoc-async");
 * await lock.release();
 * ```
 */
export interface QueueLock {
  /** The lock file: `<queue dir>/gateway.lock`, holding the owner's pid. */
  readonly path: string;
  /** Removes the lock file if it is still this process's. */
  release(): Promise<void>;
}

const lockFileName = "gateway.lock";

/** Lock files this process holds, to tell its own locks from a previous process's with the same pid. */
const heldHere = new Set<string>();

/**
 * Claims a queue directory for this process: creates `gateway.lock` with `O_EXCL`, holding the
 * pid. Two gateways on one directory would run every request twice and delete each other's
 * temporary files, so a lock of a live process is a {@link ConfigurationError} naming the
 * directory and the pid. A lock whose process is gone (SIGKILL, power loss) is taken over. The
 * check uses pids, so it protects one host (one pid namespace): never share a queue directory
 * between containers or machines.
 *
 * @example
 * ```ts
 * const lock = await acquireQueueLock(queueDir); // throws when another live gateway holds it
 * ```
 */
export async function acquireQueueLock(dir: string): Promise<QueueLock> {
  const path = join(dir, lockFileName);
  // A stale lock taken over by two processes at once: the second O_EXCL create loses and sees a live owner.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryCreate(path)) {
      heldHere.add(path);
      return { path, release: () => release(path) };
    }
    const content = await readLock(path);
    if (content === undefined) continue;
    if (content === "" && attempt === 0) {
      // Created a moment ago by a process that is still writing its pid: look again.
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const owner = Number.parseInt(content, 10);
    if (Number.isInteger(owner) && owner > 0 && isHeld(owner, path)) {
      throw new ConfigurationError(
        `The async queue directory ${dir} is in use by another gateway (pid ${owner}, ${path}): give each gateway its own BYOC_ASYNC_QUEUE_DIR (--queue-dir). If no such gateway runs, delete ${path}.`,
      );
    }
    // Stale: unlink it only if it is still the file just read, not a lock another process took meanwhile.
    if ((await readLock(path)) === content) await rm(path, { force: true });
  }
  throw new ConfigurationError(`Could not take the lock ${path} of the async queue directory ${dir}: other processes keep taking it`);
}

async function tryCreate(path: string): Promise<boolean> {
  let file;
  try {
    file = await open(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await file.writeFile(`${process.pid}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  return true;
}

/** True when `pid` is a live process holding the lock: this process only when it took the lock itself. */
function isHeld(pid: number, path: string): boolean {
  // In a container the gateway is often pid 1 at every start: a lock with our own pid that we did not take is a previous run's.
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function release(path: string): Promise<void> {
  if (!heldHere.delete(path)) return;
  const content = await readLock(path);
  if (content !== undefined && Number.parseInt(content, 10) === process.pid) await rm(path, { force: true });
}

/** The lock file's content; `undefined` when it is gone (released meanwhile). */
async function readLock(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}
