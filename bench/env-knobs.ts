/**
 * The benchmarks' knobs from the environment (`BENCH_*` variables): a positive whole number, or
 * the default when the variable is unset or empty.
 *
 * @example
 * ```ts
 * const seconds = positiveIntegerFromEnv("BENCH_SECONDS", 8);
 * ```
 */
export function positiveIntegerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${JSON.stringify(raw)} must be a positive whole number`);
  return value;
}
