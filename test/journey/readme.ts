/**
 * The README's own words, for the tests that run them: the commands of its first screen and its
 * handlers example. The tests read them from README.md, so an edit there is tested as written.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const readmePath = fileURLToPath(new URL("../../README.md", import.meta.url));

/** The first fenced block of `language` after the heading `heading`. */
async function blockAfter(heading: string, language: string): Promise<string> {
  const text = await readFile(readmePath, "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no heading ${JSON.stringify(heading)}`);
  const open = text.indexOf(`\`\`\`${language}\n`, start);
  const close = text.indexOf("\n```", open + 1);
  if (open < 0 || close < 0) throw new Error(`README.md has no \`\`\`${language} block after ${JSON.stringify(heading)}`);
  return text.slice(open + language.length + 4, close + 1);
}

/**
 * The commands of "From an empty folder to an endpoint", one per line, comments removed.
 *
 * @example
 * ```ts
 * (await firstScreenCommands())[0]; // "mkdir iris-endpoint && cd iris-endpoint"
 * ```
 */
export async function firstScreenCommands(): Promise<string[]> {
  const block = await blockAfter("## From an empty folder to an endpoint", "sh");
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#\s.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * The handlers example of "Your handlers", as a user would save it in `code/inference.ts`.
 *
 * @example
 * ```ts
 * await writeFile("code/inference.ts", await handlersExample());
 * ```
 */
export function handlersExample(): Promise<string> {
  return blockAfter("## Your handlers", "ts");
}

/**
 * The image commands of the first screen (`build`, `run`, `push`), which the container test runs:
 * the subcommand and the flags the README gives it.
 *
 * @example
 * ```ts
 * await imageCommands(); // [{ command: "build", flags: ["--model"] }, { command: "run", flags: [] }, ...]
 * ```
 */
export async function imageCommands(): Promise<{ command: string; flags: string[] }[]> {
  return (await firstScreenCommands())
    .map((line) => /^npx sagemaker-byoc (build|run|push)\b(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ command: match[1] ?? "", flags: (match[2] ?? "").split(/\s+/).filter((word) => word.startsWith("--")) }));
}
