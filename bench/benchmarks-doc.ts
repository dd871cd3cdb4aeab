/**
 * docs/benchmarks.md holds one section per benchmark script, each between its own markers
 * (`<!-- bench:<name> -->` … `<!-- /bench:<name> -->`). A script rewrites its own section and
 * leaves the others as they are.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const preamble = "# Benchmarks\n\nEach section is written by the script that measured it; none is edited by hand.\n";

/**
 * `document` with the `name` section replaced by `content`, or with it appended when absent.
 *
 * @example
 * ```ts
 * replaceSection("# Benchmarks\n", "serving", "## Serving\n...");
 * // "# Benchmarks\n\n<!-- bench:serving -->\n## Serving\n...\n<!-- /bench:serving -->\n"
 * ```
 */
export function replaceSection(document: string, name: string, content: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const section = `${open}\n${content.trim()}\n${close}`;
  const start = document.indexOf(open);
  const end = document.indexOf(close, start);
  if (start >= 0 && end < 0) throw new Error(`${open} has no ${close}: fix docs/benchmarks.md by hand before running again`);
  if (start >= 0) return document.slice(0, start) + section + document.slice(end + close.length);
  return `${document.trimEnd()}\n\n${section}\n`;
}

/**
 * Writes `content` as the `name` section of the markdown file at `path`, creating the file with
 * its preamble when it does not exist.
 *
 * @example
 * ```ts
 * writeSection("docs/benchmarks.md", "serving", markdown);
 * ```
 */
export function writeSection(path: string, name: string, content: string): void {
  const document = existsSync(path) ? readFileSync(path, "utf8") : preamble;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, replaceSection(document, name, content));
}
