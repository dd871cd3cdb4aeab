import type { ParseArgsOptionDescriptor } from "node:util";
import { defaultText, type CommandName, type FlagDeclaration, type Setting, type SettingsGroup } from "../config/setting.js";

interface CommandFlag {
  readonly declared: FlagDeclaration;
  readonly setting: Setting<unknown>;
}

function commandFlags(groups: readonly SettingsGroup[], command: CommandName): CommandFlag[] {
  const byName = new Map<string, CommandFlag>();
  for (const group of groups) {
    for (const { setting } of group.entries) {
      for (const declared of setting.flags) if (declared.commands.includes(command) && !byName.has(declared.name)) byName.set(declared.name, { declared, setting });
    }
  }
  return [...byName.values()];
}

/**
 * The `parseArgs` options of the settings `command` takes as flags: switches as booleans, the
 * others as strings (the settings' kinds validate them), repeatable ones as lists.
 *
 * @example
 * ```ts
 * const options = { ...settingFlagOptions([serverSettings], "serve"), help: { type: "boolean", short: "h" } } as const;
 * parseArgs({ args: argv, options, strict: true });
 * ```
 */
export function settingFlagOptions(groups: readonly SettingsGroup[], command: CommandName): Record<string, ParseArgsOptionDescriptor> {
  return Object.fromEntries(
    commandFlags(groups, command).map(({ declared }) => [
      declared.name.slice(2),
      declared.sets === undefined ? { type: "string", multiple: declared.repeatable } : { type: "boolean" },
    ]),
  );
}

const usageColumn = 29;
const usageWidth = 100;

/**
 * The usage lines of those flags: placeholder, description, variable and default, from the
 * settings. Flags the `shown` groups already describe are left out (a later section of the same
 * usage text).
 *
 * @example
 * ```ts
 * settingFlagUsage([serverSettings], "serve");
 * // "  --port <n>                 TCP port ($SAGEMAKER_BIND_TO_PORT, default 8080)\n..."
 * ```
 */
export function settingFlagUsage(groups: readonly SettingsGroup[], command: CommandName, shown: readonly SettingsGroup[] = []): string {
  const already = new Set(commandFlags(shown, command).map(({ declared }) => declared.name));
  return commandFlags(groups, command)
    .filter(({ declared }) => !already.has(declared.name))
    .map(({ declared, setting }) => {
      const flag = declared.sets === undefined ? `${declared.name} ${setting.kind.placeholder}` : declared.name;
      // A switch's default is the opposite of what it sets: saying so adds nothing.
      const fallback = declared.sets === undefined ? defaultText(setting) : undefined;
      const notes = [
        setting.env[0] === undefined ? undefined : `$${setting.env[0]}`,
        fallback === undefined ? undefined : `default ${fallback}`,
        declared.repeatable ? "repeatable" : undefined,
      ].filter((note) => note !== undefined);
      const head = `  ${flag}`;
      // Descriptions mark code and emphasis for the Markdown tables; a terminal shows them plain.
      const text = `${setting.description}${notes.length === 0 ? "" : ` (${notes.join(", ")})`}`.replace(/`|\*\*/g, "");
      return head.length < usageColumn - 1 ? wrap(head.padEnd(usageColumn - 1), text) : `${head}\n${wrap(" ".repeat(usageColumn - 1), text)}`;
    })
    .join("\n");
}

/** `text` after `head`, wrapped at the usage width with following lines indented to the text column. */
function wrap(head: string, text: string): string {
  const lines = [head];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    const line = lines[last] as string;
    if (line.length + 1 + word.length > usageWidth && line.trim() !== "" && line.length > usageColumn) lines.push(`${" ".repeat(usageColumn - 1)} ${word}`);
    else lines[last] = `${line} ${word}`;
  }
  return lines.join("\n");
}
