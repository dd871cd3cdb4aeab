import type { Report } from "./command-runner.js";

/**
 * Runs one step of a build or push, announcing it and reporting how long it took.
 *
 * @example
 * ```ts
 * const context = await timed(report, "Writing the build context", () => writeBuildContext(project, settings, runner));
 * // ==> Writing the build context
 * //     done in 7.4 s
 * ```
 */
export async function timed<T>(report: Report, title: string, work: () => Promise<T>): Promise<T> {
  report(`==> ${title}`);
  const started = performance.now();
  const result = await work();
  report(`    done in ${formatSeconds(performance.now() - started)}`);
  return result;
}

/**
 * Milliseconds as seconds with one decimal.
 *
 * @example
 * ```ts
 * formatSeconds(7421); // "7.4 s"
 * ```
 */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Bytes in binary megabytes, for sizes printed to the user.
 *
 * @example
 * ```ts
 * formatMegabytes(104_857_600); // "100.0 MiB"
 * ```
 */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
