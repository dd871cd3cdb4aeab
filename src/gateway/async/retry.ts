/**
 * How retries of transient errors are spaced.
 *
 * @example
 * ```ts
 * const backoff: BackoffOptions = { baseMs: 500, maxMs: 30_000 };
 * ```
 */
export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. */
  readonly baseMs: number;
  /** Upper bound of any delay, in ms. */
  readonly maxMs: number;
  /** A number in [0, 1); `Math.random` by default. */
  readonly random?: () => number;
}

const throttlingCodes = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "Throttled",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "SlowDown",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "ProvisionedThroughputExceededException",
  "PriorRequestNotComplete",
]);
const transientCodes = new Set(["RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable", "TimeoutError"]);
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

interface ErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/**
 * True for an error worth retrying: a 5xx or 429 answer, a throttling or timeout code, or a
 * network failure (connection refused or reset, DNS, socket timeout). False for the rest, such
 * as S3's NoSuchKey (404) or AccessDenied (403): retrying cannot fix those.
 *
 * @example
 * ```ts
 * isTransientError(Object.assign(new Error("down"), { code: "ECONNREFUSED" })); // true
 * ```
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const candidate = error as ErrorLike;
  const status = candidate.$metadata?.httpStatusCode;
  if (typeof status === "number" && (status >= 500 || status === 429)) return true;
  const name = typeof candidate.name === "string" ? candidate.name : "";
  const code = typeof candidate.code === "string" ? candidate.code : "";
  if (throttlingCodes.has(name) || transientCodes.has(name) || networkCodes.has(code) || throttlingCodes.has(code)) return true;
  if (typeof status === "number") return false;
  if (Array.isArray(candidate.errors) && candidate.errors.some((inner) => isTransientError(inner, depth + 1))) return true;
  return isTransientError(candidate.cause, depth + 1);
}

/**
 * The delay before retry number `attempt` (0-based): "full jitter" exponential backoff, a
 * random delay below `min(maxMs, baseMs * 2^attempt)`, so many waiting requests do not retry
 * in step.
 *
 * @example
 * ```ts
 * backoffDelay(3, { baseMs: 500, maxMs: 30_000 }); // somewhere in [0, 4000)
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/**
 * Waits `ms`, or rejects with the signal's reason when it fires first.
 *
 * @example
 * ```ts
 * await sleep(backoffDelay(attempt, options), shutdown.signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `operation` until it succeeds or fails with an error that is not retryable (by default:
 * not {@link isTransientError}), waiting {@link backoffDelay} between attempts and calling
 * `onRetry` before each wait. There is no attempt limit: the caller bounds it with `signal`
 * (shutdown), so a result is never dropped because a dependency was down for a while.
 *
 * @example
 * ```ts
 * await retryTransient(() => s3.send(command), { baseMs: 500, maxMs: 30_000 }, shutdown.signal, (error, attempt, delayMs) => log.warn({ err: error, attempt, delayMs }, "S3 write failed; retrying"));
 * ```
 */
export async function retryTransient<T>(
  operation: () => Promise<T>,
  options: BackoffOptions,
  signal: AbortSignal,
  onRetry: (error: unknown, attempt: number, delayMs: number) => void,
  retryable: (error: unknown) => boolean = isTransientError,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!retryable(error) || signal.aborted) throw error;
      const delayMs = backoffDelay(attempt, options);
      onRetry(error, attempt + 1, delayMs);
      await sleep(delayMs, signal);
    }
  }
}
