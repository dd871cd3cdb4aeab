/**
 * Writes the README's status-code tables from the error catalogue (`src/error-codes.ts`), between
 * the `error-codes:start` and `error-codes:end` markers. `test/error-codes.test.ts` fails when the
 * README and the catalogue differ.
 *
 * Run with `node --import tsx scripts/error-codes-table.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { errorCodes, runtimeApiErrors, type ErrorCodeEntry } from "../src/error-codes.js";

export const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
export const startMarker = "<!-- error-codes:start: generated from src/error-codes.ts by scripts/error-codes-table.ts -->";
export const endMarker = "<!-- error-codes:end -->";

/**
 * The markdown between the markers: the codes of the JSON error body, then the gateway's
 * SageMaker Runtime API error types.
 *
 * @example
 * ```ts
 * renderErrorCodeTables().includes("| 413 | `PAYLOAD_TOO_LARGE` |"); // true
 * ```
 */
export function renderErrorCodeTables(): string {
  const rows = (entries: Record<string, ErrorCodeEntry>, answered: boolean): string[] =>
    Object.entries(entries)
      .filter(([, { status }]) => (status !== undefined) === answered)
      .map(([code, { status, when }]) => `| ${status ?? "— (async failure object)"} | \`${code}\` | ${when} |`);
  return [
    "| status | code | when |",
    "| --- | --- | --- |",
    ...rows(errorCodes, true),
    "| 400-599 | yours | `throw new InferenceError(message, { statusCode, code })` |",
    ...rows(errorCodes, false),
    "",
    "The gateway of the async mode answers as the SageMaker Runtime API does: the error type in the",
    "`x-amzn-ErrorType` header, `{\"Message\": ...}` in the body, so SDKs raise the same exceptions",
    "([docs/async.md](docs/async.md)).",
    "",
    "| status | error type | when |",
    "| --- | --- | --- |",
    ...rows(runtimeApiErrors, true),
  ].join("\n");
}

/**
 * The README's text between the markers, or `undefined` when a marker is missing.
 *
 * @example
 * ```ts
 * generatedSection(readFileSync(readmePath, "utf8")) === renderErrorCodeTables(); // true when up to date
 * ```
 */
export function generatedSection(readme: string): string | undefined {
  const start = readme.indexOf(startMarker);
  const end = readme.indexOf(endMarker);
  if (start === -1 || end < start) return undefined;
  return readme.slice(start + startMarker.length, end).trim();
}

function main(): void {
  const readme = readFileSync(readmePath, "utf8");
  if (generatedSection(readme) === undefined) throw new Error(`README.md lacks the markers ${startMarker} ... ${endMarker}`);
  const start = readme.indexOf(startMarker) + startMarker.length;
  const end = readme.indexOf(endMarker);
  writeFileSync(readmePath, `${readme.slice(0, start)}\n${renderErrorCodeTables()}\n${readme.slice(end)}`);
  console.log(`wrote the status-code tables into ${readmePath}`);
}

if (resolve(process.argv[1] ?? "") === fileURLToPath(import.meta.url)) main();
