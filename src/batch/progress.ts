import type { ProgressStream } from "../cli/progress.js";

/**
 * What a running job reports, as it happens.
 *
 * @example
 * ```ts
 * const observer: JobObserver = { started: (plan) => console.log(plan.files), batchDone: () => {}, bytesRead: () => {}, fileDone: () => {}, fileFailed: () => {}, retrying: () => {} };
 * ```
 */
export interface JobObserver {
  /** The job's input: files in total, those skipped (their output exists), bytes to read. */
  started(plan: { readonly files: number; readonly skipped: number; readonly bytes: number }): void;
  bytesRead(bytes: number): void;
  batchDone(records: number): void;
  fileDone(location: string, records: number): void;
  fileFailed(location: string, message: string, records: number): void;
  retrying(location: string, reason: string, attempt: number): void;
}

/**
 * The counts of a job so far.
 *
 * @example
 * ```ts
 * const snapshot: ProgressSnapshot = progress.snapshot();
 * ```
 */
export interface ProgressSnapshot {
  readonly files: number;
  readonly filesDone: number;
  readonly filesSkipped: number;
  readonly filesFailed: number;
  readonly records: number;
  readonly recordsFailed: number;
  readonly bytes: number;
  readonly bytesRead: number;
  readonly elapsedMs: number;
}

/**
 * Counts a job's progress ({@link JobObserver}), on an injectable clock.
 *
 * @example
 * ```ts
 * const progress = new JobProgress(() => performance.now());
 * await runTransformJob(job, { container, observer: progress });
 * formatProgress(progress.snapshot());
 * ```
 */
export class JobProgress implements JobObserver {
  readonly #now: () => number;
  #started: number | undefined;
  #files = 0;
  #filesDone = 0;
  #filesSkipped = 0;
  #filesFailed = 0;
  #records = 0;
  #recordsFailed = 0;
  #bytes = 0;
  #bytesRead = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  started(plan: { files: number; skipped: number; bytes: number }): void {
    this.#started = this.#now();
    this.#files = plan.files;
    this.#filesSkipped = plan.skipped;
    this.#bytes = plan.bytes;
  }

  bytesRead(bytes: number): void {
    this.#bytesRead += bytes;
  }

  batchDone(records: number): void {
    this.#records += records;
  }

  fileDone(): void {
    this.#filesDone++;
  }

  fileFailed(_location: string, _message: string, records: number): void {
    this.#filesFailed++;
    this.#recordsFailed += records;
  }

  retrying(): void {}

  snapshot(): ProgressSnapshot {
    return {
      files: this.#files,
      filesDone: this.#filesDone,
      filesSkipped: this.#filesSkipped,
      filesFailed: this.#filesFailed,
      records: this.#records,
      recordsFailed: this.#recordsFailed,
      bytes: this.#bytes,
      bytesRead: this.#bytesRead,
      elapsedMs: this.#started === undefined ? 0 : this.#now() - this.#started,
    };
  }
}

const barWidth = 24;
const count = new Intl.NumberFormat("en-US");

/**
 * One progress line: a bar of the input bytes read, then records, files and the record rate.
 *
 * @example
 * ```ts
 * formatProgress(snapshot); // "[############------------]  50% | 500,000 records | files 1/2 | 81,234 records/s"
 * ```
 */
export function formatProgress(snapshot: ProgressSnapshot): string {
  const finished = snapshot.filesDone + snapshot.filesSkipped + snapshot.filesFailed;
  // Files without bytes (empty, or all done already) count by number.
  const fraction = snapshot.bytes > 0 ? Math.min(1, snapshot.bytesRead / snapshot.bytes) : snapshot.files > 0 ? finished / snapshot.files : 0;
  const filled = Math.round(fraction * barWidth);
  const notes = [
    snapshot.filesSkipped > 0 ? `${snapshot.filesSkipped} already done` : undefined,
    snapshot.filesFailed > 0 ? `${snapshot.filesFailed} failed` : undefined,
  ].filter((note) => note !== undefined);
  return [
    `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${count.format(snapshot.records)} records`,
    `files ${finished}/${snapshot.files}${notes.length === 0 ? "" : ` (${notes.join(", ")})`}`,
    `${count.format(Math.round(rate(snapshot)))} records/s`,
  ].join(" | ");
}

/** Records per second since the job started. */
function rate(snapshot: ProgressSnapshot): number {
  return snapshot.elapsedMs <= 0 ? 0 : (snapshot.records / snapshot.elapsedMs) * 1000;
}

/**
 * A running progress display.
 *
 * @example
 * ```ts
 * const display = showProgress(process.stderr, progress);
 * display.note("data.csv: retrying");
 * display.stop();
 * ```
 */
export interface ProgressDisplay {
  /** Prints a line of its own (the bar, on a terminal, is redrawn below it). */
  note(text: string): void;
  /** Draws the last state and stops. */
  stop(): void;
}

/**
 * Shows `progress` on `stream`: on a terminal, the line of {@link formatProgress} redrawn in place
 * every `intervalMs`; elsewhere (a log, a pipe) the same line every `plainIntervalMs`, so captured
 * output stays readable.
 *
 * @example
 * ```ts
 * const display = showProgress(process.stderr, progress);
 * ```
 */
export function showProgress(stream: ProgressStream, progress: JobProgress, options: { readonly intervalMs?: number; readonly plainIntervalMs?: number } = {}): ProgressDisplay {
  const tty = stream.isTTY === true;
  const draw = (): void => {
    stream.write(tty ? `\r\x1b[K${formatProgress(progress.snapshot())}` : `${formatProgress(progress.snapshot())}\n`);
  };
  const timer = setInterval(draw, tty ? (options.intervalMs ?? 200) : (options.plainIntervalMs ?? 10_000));
  timer.unref();
  return {
    note(text) {
      stream.write(tty ? `\r\x1b[K${text}\n` : `${text}\n`);
      if (tty) draw();
    },
    stop() {
      clearInterval(timer);
      draw();
      if (tty) stream.write("\n");
    },
  };
}
