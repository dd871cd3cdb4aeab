/**
 * How the serving benchmark's report writes numbers and table rows.
 */

/**
 * A markdown table row; a `|` inside a cell is escaped.
 *
 * @example
 * ```ts
 * row(["toolkit", "1,302"]); // "| toolkit | 1,302 |"
 * ```
 */
export function row(cells: readonly string[]): string {
  return `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
}

/**
 * Milliseconds with three significant figures or so; "–" for a value not measured.
 *
 * @example
 * ```ts
 * ms(0.2694); // "0.269"
 * ```
 */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(3);
}

/**
 * A difference with its sign, three decimals.
 *
 * @example
 * ```ts
 * signed(0.018); // "+0.018"
 * ```
 */
export function signed(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(3)}`;
}

/**
 * A whole number with thousands separators.
 *
 * @example
 * ```ts
 * integer(12686.6); // "12,687"
 * ```
 */
export function integer(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/**
 * Requests per second: whole above 100, one decimal below.
 *
 * @example
 * ```ts
 * rate(41.25); // "41.3"
 * ```
 */
export function rate(perSecond: number): string {
  return perSecond >= 100 ? integer(perSecond) : perSecond.toFixed(1);
}

/**
 * Microseconds: whole from 100 up, one decimal below.
 *
 * @example
 * ```ts
 * micros(27.34); // "27.3"
 * ```
 */
export function micros(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value >= 100 ? integer(value) : value.toFixed(1);
}

/**
 * A share as a whole percentage.
 *
 * @example
 * ```ts
 * percent(0.524); // "52%"
 * ```
 */
export function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : "–";
}
