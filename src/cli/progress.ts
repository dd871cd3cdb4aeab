/**
 * A stream the progress indicator writes to; `isTTY` decides between a spinner and a plain line.
 *
 * @example
 * ```ts
 * const stream: ProgressStream = process.stderr;
 * ```
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * A running progress indicator.
 *
 * @example
 * ```ts
 * const progress: Progress = startProgress(process.stderr, "waiting");
 * progress.stop();
 * ```
 */
export interface Progress {
  /** Prints a line of its own above the indicator (on a terminal, the spinner goes on below it). */
  note(text: string): void;
  /** Stops it; a TTY line is cleared. */
  stop(): void;
}

const frames = ["|", "/", "-", "\\"];

/**
 * Shows that the CLI is waiting: on a terminal, a spinner with the elapsed seconds redrawn in
 * place; otherwise (a log, a pipe) one plain line, so captured output stays readable.
 *
 * @example
 * ```ts
 * const progress = startProgress(process.stderr, "waiting for s3://bucket/out/id.out");
 * progress.note("HeadObject answered 403; still waiting");
 * progress.stop();
 * ```
 */
export function startProgress(stream: ProgressStream, label: string, intervalMs = 100): Progress {
  if (stream.isTTY !== true) {
    stream.write(`${label} ...\n`);
    return { note: (text) => stream.write(`${text}\n`), stop: () => undefined };
  }
  const started = Date.now();
  let frame = 0;
  const draw = (): void => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r\x1b[K${frames[frame++ % frames.length]} ${label} (${seconds} s)`);
  };
  draw();
  const timer = setInterval(draw, intervalMs);
  return {
    note(text) {
      stream.write(`\r\x1b[K${text}\n`);
      draw();
    },
    stop() {
      clearInterval(timer);
      stream.write("\r\x1b[K");
    },
  };
}
