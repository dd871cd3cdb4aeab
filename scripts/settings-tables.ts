/**
 * Writes the settings tables of README.md, docs/async.md and docs/pipelines.md from the settings schema
 * (src/config/), between `<!-- settings-table:NAME -->` and `<!-- /settings-table:NAME -->`
 * markers. test/config/settings-tables.test.ts fails when a table and the schema disagree.
 *
 * Run with `node --import tsx scripts/settings-tables.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { asyncModeSettings, asyncSettings } from "../src/config/async-config.js";
import { pipelineSettings } from "../src/config/pipeline-config.js";
import { serverSettings } from "../src/config/server-config.js";
import { defaultText, type CommandName, type Setting, type SettingsGroup } from "../src/config/setting.js";

/** One table: which settings, and which commands its flags belong to unless a row says otherwise. */
export interface SettingsTable {
  readonly name: string;
  /** Groups whose paths are option names of a loader; others (the async switch) have none. */
  readonly groups: readonly { readonly group: SettingsGroup; readonly options: boolean }[];
  readonly commands: readonly CommandName[];
}

const serverTable: SettingsTable = { name: "server", groups: [{ group: serverSettings, options: true }], commands: ["serve"] };
const asyncTable: SettingsTable = {
  name: "async",
  groups: [
    { group: asyncModeSettings, options: false },
    { group: asyncSettings, options: true },
  ],
  commands: ["serve", "gateway"],
};

const pipelineTable: SettingsTable = { name: "pipeline", groups: [{ group: pipelineSettings, options: true }], commands: ["pipeline"] };

/** Every file with tables, and its tables. */
export const settingsTableFiles: readonly { readonly file: string; readonly tables: readonly SettingsTable[] }[] = [
  { file: "README.md", tables: [serverTable, asyncTable] },
  { file: "docs/async.md", tables: [asyncTable] },
  { file: "docs/pipelines.md", tables: [pipelineTable] },
];

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The Markdown table of `table`'s settings: variables, flags, option names, accepted values,
 * defaults and descriptions.
 *
 * @example
 * ```ts
 * renderSettingsTable(serverTable).split("\n")[0]; // "| environment variable | flag | option | accepts | default | meaning |"
 * ```
 */
export function renderSettingsTable(table: SettingsTable): string {
  const rows = table.groups.flatMap(({ group, options }) =>
    group.entries.map(({ path, setting }) =>
      [
        setting.env.map(code).join(", else "),
        flags(setting, table.commands),
        options ? code(path) : "",
        escape(setting.kind.expected),
        defaultCell(setting),
        setting.description,
      ].join(" | "),
    ),
  );
  return ["| environment variable | flag | option | accepts | default | meaning |", "| --- | --- | --- | --- | --- | --- |", ...rows.map((row) => `| ${row} |`)].join(
    "\n",
  );
}

/**
 * `text` with each table's block, between its markers, replaced by the table as rendered now.
 * Throws when a marker is missing.
 *
 * @example
 * ```ts
 * const updated = withSettingsTables(readFileSync("README.md", "utf8"), [serverTable]);
 * ```
 */
export function withSettingsTables(text: string, tables: readonly SettingsTable[]): string {
  let updated = text;
  for (const table of tables) {
    const start = `<!-- settings-table:${table.name} -->`;
    const end = `<!-- /settings-table:${table.name} -->`;
    const from = updated.indexOf(start);
    const to = updated.indexOf(end, from);
    if (from < 0 || to < 0) throw new Error(`No ${start} ... ${end} markers`);
    updated = `${updated.slice(0, from + start.length)}\n${renderSettingsTable(table)}\n${updated.slice(to)}`;
  }
  return updated;
}

function flags(setting: Setting<unknown>, usual: readonly CommandName[]): string {
  return setting.flags
    .map(({ name, commands }) => {
      const same = commands.length === usual.length && commands.every((command) => usual.includes(command));
      return same ? code(name) : `${code(name)} (${commands.join(", ")})`;
    })
    .join(", ");
}

function defaultCell(setting: Setting<unknown>): string {
  const fallback = setting.default;
  if (fallback !== undefined && "value" in fallback) return code(setting.kind.format(fallback.value)) || "none";
  return defaultText(setting) ?? "—";
}

function code(text: string): string {
  return text === "" ? "" : `\`${text}\``;
}

/** Plain text in a table cell: no emphasis, HTML or column breaks from `*`, `<`, `>` or `|`. */
function escape(text: string): string {
  return text.replace(/[*<>|]/g, (character) => `\\${character}`);
}

function main(): void {
  for (const { file, tables } of settingsTableFiles) {
    const path = resolve(root, file);
    writeFileSync(path, withSettingsTables(readFileSync(path, "utf8"), tables));
  }
}

if (resolve(process.argv[1] ?? "") === fileURLToPath(import.meta.url)) main();
