/**
 * A side channel between tests and the handler fixtures. The fixtures run in the server's worker
 * threads, where a test cannot look, so they report what happened (a model loaded, a stage ran,
 * an AbortSignal fired, a worker hangs) on a BroadcastChannel, which crosses threads within the
 * process; the test can answer on it too (to release a held request).
 */
import { BroadcastChannel, threadId } from "node:worker_threads";

const channelName = "sagemaker-byoc-test-fixtures";

/** One report of a fixture: what happened, to which request, in which worker and thread. */
export interface FixtureEvent {
  readonly event: string;
  readonly inferenceId?: string;
  readonly workerId?: number;
  readonly threadId: number;
  readonly [detail: string]: unknown;
}

/** A message from the test to the fixtures. */
export interface FixtureCommand {
  readonly release: string;
}

let fixtureChannel: BroadcastChannel | undefined;
/** Releases this thread has heard of, kept so that one sent before its waiter exists is not lost. */
const releasesHeard = new Set<string>();
const releaseWaiters = new Map<string, () => void>();

/**
 * This thread's channel; unreferenced, so it never keeps a thread alive on its own. It is opened
 * by the first report, so it already listens when the test answers that report with a release.
 */
function channel(): BroadcastChannel {
  if (fixtureChannel === undefined) {
    fixtureChannel = new BroadcastChannel(channelName);
    fixtureChannel.onmessage = (message) => {
      const { release } = message.data as Partial<FixtureCommand>;
      if (release === undefined) return;
      const waiter = releaseWaiters.get(release);
      if (waiter === undefined) releasesHeard.add(release);
      else waiter();
    };
    fixtureChannel.unref();
  }
  return fixtureChannel;
}

/**
 * Reports an event to the test (called by fixtures, in a worker thread). The message is queued
 * for the listeners at once, so it arrives even when the caller then blocks its thread for good.
 *
 * @example
 * ```ts
 * reportToTest({ event: "aborted", inferenceId: ctx.inferenceId });
 * ```
 */
export function reportToTest(event: Omit<FixtureEvent, "threadId">): void {
  channel().postMessage({ ...event, threadId });
}

/**
 * Resolves when the test sends `{ release: inferenceId }` (called by fixtures).
 *
 * @example
 * ```ts
 * await releasedByTest(ctx.inferenceId);
 * ```
 */
export function releasedByTest(inferenceId: string): Promise<void> {
  channel();
  if (releasesHeard.delete(inferenceId)) return Promise.resolve();
  return new Promise((resolve) => {
    // Holds the thread open while it waits, as a referenced channel would.
    const keepAlive = setInterval(() => undefined, 60_000);
    releaseWaiters.set(inferenceId, () => {
      releaseWaiters.delete(inferenceId);
      clearInterval(keepAlive);
      resolve();
    });
  });
}

/** What a test sees of the fixtures. */
export interface FixtureEvents {
  /** Every event received so far, in order. */
  readonly events: readonly FixtureEvent[];
  /** The events about one request. */
  about(inferenceId: string): FixtureEvent[];
  /** The first event (received already or later) that `matches`; fails the test after `timeoutMs`, naming `what`. */
  next(what: string, matches: (event: FixtureEvent) => boolean, timeoutMs?: number): Promise<FixtureEvent>;
  /** Releases a request a fixture holds. */
  release(inferenceId: string): void;
  close(): void;
}

/**
 * Listens to the fixtures' reports from now on.
 *
 * @example
 * ```ts
 * const fixtures = listenToFixtures();
 * await fixtures.next("the abort", (event) => event.event === "aborted");
 * ```
 */
export function listenToFixtures(): FixtureEvents {
  const events: FixtureEvent[] = [];
  const waiters = new Set<() => void>();
  const listener = new BroadcastChannel(channelName);
  listener.onmessage = (message) => {
    events.push(message.data as FixtureEvent);
    for (const waiter of waiters) waiter();
  };
  return {
    events,
    about: (inferenceId) => events.filter((event) => event.inferenceId === inferenceId),
    next(what, matches, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = events.find(matches);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    release(inferenceId) {
      listener.postMessage({ release: inferenceId } satisfies FixtureCommand);
    },
    close() {
      listener.close();
    },
  };
}
