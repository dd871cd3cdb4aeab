import { backoffDelay, sleep, type BackoffOptions } from "../gateway/async/retry.js";
import type { ContainerClient, InvocationAnswer, TransformHeaders } from "./container-client.js";

/** A mini-batch the container did not answer with a 2xx, after the retries it was entitled to. */
export class InvocationFailedError extends Error {
  override name = "InvocationFailedError";
  /** The last HTTP status, or `undefined` when the last attempt got no answer (network, time limit). */
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(message: string, status: number | undefined, attempts: number) {
    super(message);
    this.status = status;
    this.attempts = attempts;
  }
}

/**
 * How invocations are retried: `ModelClientConfig`'s `InvocationsMaxRetries` and
 * `InvocationsTimeoutInSeconds` (docs/batch.md), and the spacing of the retries.
 *
 * @example
 * ```ts
 * const policy: RetryPolicy = { maxRetries: 3, timeoutMs: 600_000, backoff: { baseMs: 1000, maxMs: 20_000 } };
 * ```
 */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly timeoutMs: number;
  readonly backoff: BackoffOptions;
}

/**
 * Sends one mini-batch, retrying up to `maxRetries` times what another attempt can fix: no answer
 * (connection refused or reset, past the time limit), 5xx, 429 and 408. Other 4xx answers are the
 * record's fault and fail at once. Retries wait a jittered exponential backoff.
 *
 * @throws InvocationFailedError with the last answer's status and message.
 * @example
 * ```ts
 * const answer = await invokeWithRetries(container, batch.body, headers, policy, signal, (reason, attempt) => log(reason));
 * ```
 */
export async function invokeWithRetries(
  container: ContainerClient,
  body: Buffer,
  headers: TransformHeaders,
  policy: RetryPolicy,
  signal: AbortSignal,
  onRetry: (reason: string, attempt: number) => void = () => undefined,
): Promise<InvocationAnswer> {
  for (let attempt = 0; ; attempt++) {
    let status: number | undefined;
    let reason: string;
    try {
      const answer = await container.invoke(body, headers, AbortSignal.any([signal, AbortSignal.timeout(policy.timeoutMs)]));
      if (answer.status >= 200 && answer.status < 300) return answer;
      status = answer.status;
      reason = `the container answered ${answer.status}${describeBody(answer)}`;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      reason = (error as Error).name === "TimeoutError" ? `no answer within ${policy.timeoutMs / 1000} s` : `no answer: ${describeNetworkError(error)}`;
    }
    const retryable = status === undefined || status >= 500 || status === 429 || status === 408;
    if (!retryable || attempt >= policy.maxRetries) throw new InvocationFailedError(reason, status, attempt + 1);
    onRetry(reason, attempt + 1);
    await sleep(backoffDelay(attempt, policy.backoff), signal);
  }
}

/** The error's code and message from a JSON error body (`{"error": {"code", "message"}}`), else the start of the body. */
function describeBody(answer: InvocationAnswer): string {
  const text = answer.body.toString("utf8").trim();
  if (text === "") return "";
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    const { code, message } = parsed.error ?? { message: parsed.message };
    if (typeof message === "string") return `: ${typeof code === "string" ? `${code}: ` : ""}${message}`;
  } catch {
    // Not JSON: show the text.
  }
  return `: ${text.length > 300 ? `${text.slice(0, 300)}...` : text}`;
}

function describeNetworkError(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === "string" && typeof message === "string" && !message.includes(code) ? `${code} (${message})` : String(message);
}
