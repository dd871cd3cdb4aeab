/**
 * The signals `build` and `push` clean up after: Ctrl-C (SIGINT) and `kill` or a CI runner's
 * cancel (SIGTERM).
 */
export const cleanedUpSignals = ["SIGINT", "SIGTERM"] as const;

/**
 * One of {@link cleanedUpSignals}.
 *
 * @example
 * ```ts
 * const signal: CleanedUpSignal = "SIGINT";
 * ```
 */
export type CleanedUpSignal = (typeof cleanedUpSignals)[number];

/** 128 + the signal's number, the status a shell reports for a process the signal ended. */
const exitCodes: Readonly<Record<CleanedUpSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Where the signals come from: `process`, or an `EventEmitter` in tests.
 *
 * @example
 * ```ts
 * const source: SignalSource = process;
 * ```
 */
export interface SignalSource {
  on(signal: CleanedUpSignal, listener: () => void): unknown;
  off(signal: CleanedUpSignal, listener: () => void): unknown;
}

/**
 * Ends the process once the clean-up ran: `code` is 130 for SIGINT, 143 for SIGTERM; `failures`
 * are the errors clean-up actions threw (the others still ran).
 *
 * @example
 * ```ts
 * const exit: InterruptExit = (signal, code) => process.exit(code);
 * ```
 */
export type InterruptExit = (signal: CleanedUpSignal, code: number, failures: readonly unknown[]) => void;

/**
 * Runs clean-up actions when the process is interrupted, for what a `finally` block cannot
 * protect: Node does not run `finally` when a signal ends it, so the project's `.npmrc` copied
 * into the build context and buildah's temporary registry login would stay on disk. It listens
 * only while actions are registered, so a process with nothing to clean up keeps Node's default
 * handling. Actions run last registered first (the running command is stopped before the files
 * it reads are removed), synchronously, then the process exits with 130 or 143.
 *
 * @example
 * ```ts
 * const release = interruptCleanup.register(() => rmSync(npmrc, { force: true }));
 * try {
 *   await runner.run("npm", ["ci"]);
 * } finally {
 *   release();
 *   await rm(npmrc, { force: true });
 * }
 * ```
 */
export class InterruptCleanup {
  readonly #source: SignalSource;
  readonly #exit: InterruptExit;
  readonly #actions = new Set<() => void>();
  readonly #listeners = new Map<CleanedUpSignal, () => void>(cleanedUpSignals.map((signal) => [signal, () => this.#interrupted(signal)]));

  constructor(source: SignalSource, exit: InterruptExit) {
    this.#source = source;
    this.#exit = exit;
  }

  /** Runs `action` if SIGINT or SIGTERM arrives before the returned function is called. */
  register(action: () => void): () => void {
    // Each registration is its own entry, even when the same function is registered twice.
    const entry = () => action();
    if (this.#actions.size === 0) this.#listen(true);
    this.#actions.add(entry);
    return () => {
      if (this.#actions.delete(entry) && this.#actions.size === 0) this.#listen(false);
    };
  }

  #listen(on: boolean): void {
    for (const [signal, listener] of this.#listeners) {
      if (on) this.#source.on(signal, listener);
      else this.#source.off(signal, listener);
    }
  }

  #interrupted(signal: CleanedUpSignal): void {
    this.#listen(false);
    const actions = [...this.#actions].reverse();
    this.#actions.clear();
    const failures: unknown[] = [];
    for (const action of actions) {
      try {
        action();
      } catch (error) {
        failures.push(error);
      }
    }
    this.#exit(signal, exitCodes[signal], failures);
  }
}

/**
 * The process's own clean-up, which `build` and `push` register with: on SIGINT or SIGTERM it
 * runs the actions, says so on stderr and exits with 130 or 143.
 *
 * @example
 * ```ts
 * const release = interruptCleanup.register(() => rmSync(authDir, { recursive: true, force: true }));
 * ```
 */
export const interruptCleanup = new InterruptCleanup(process, (signal, code, failures) => {
  for (const failure of failures) process.stderr.write(`sagemaker-byoc: clean-up after ${signal} failed: ${failure instanceof Error ? failure.message : String(failure)}\n`);
  process.stderr.write(`sagemaker-byoc: stopped by ${signal}${failures.length === 0 ? "; temporary files removed" : ""}\n`);
  process.exit(code);
});
