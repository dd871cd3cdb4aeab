import { ConfigurationError } from "../errors.js";
import type { SettingKind } from "./kinds.js";
import {
  defaultText,
  isSetting,
  type CommandName,
  type ReadSetting,
  type RuleContext,
  type Setting,
  type SettingsGroup,
  type SettingValue,
  type SettingsValues,
  type SettingTree,
} from "./setting.js";

/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Flag values as `parseArgs` gives them, keyed by flag name without dashes. */
export type FlagValues = Readonly<Record<string, string | boolean | readonly (string | boolean)[] | undefined>>;

/**
 * Where settings come from, in order of precedence: code (`overrides`), then CLI flags, then
 * environment variables, then defaults.
 *
 * @example
 * ```ts
 * const sources: SettingSources = { env: process.env, flags: { command: "serve", values } };
 * ```
 */
export interface SettingSources {
  readonly env?: Env | undefined;
  readonly flags?: { readonly command: CommandName; readonly values: FlagValues } | undefined;
  /** Values given in code, shaped as the configuration (`{ onnx: { deviceId: 1 } }`). */
  readonly overrides?: object | undefined;
}

/** A value some source gave, with how the user wrote it, for messages. */
interface Given {
  readonly value: unknown;
  /** `SAGEMAKER_BIND_TO_PORT`, `--port` or `port`. */
  readonly label: string;
  /** As written: the text of a variable or flag, the JSON of a value given in code. */
  readonly written: string;
}

type GivenValues = Map<Setting<unknown>, Given>;

/**
 * Reads a group of settings from every source, validates each value where it came from and
 * checks the group's rules on the merged result. Every problem is collected; if any, one
 * {@link ConfigurationError} names each setting as the user wrote it (`--port`,
 * `SAGEMAKER_BIND_TO_PORT`, `port`), the value and what it accepts.
 *
 * @example
 * ```ts
 * const config = resolveSettings(serverSettings, { env: process.env, overrides: { port: 9000 } });
 * ```
 */
export function resolveSettings<Tree extends SettingTree>(group: SettingsGroup<Tree>, sources: SettingSources): SettingsValues<Tree> {
  const problems = new Set<string>();
  const fromEnv = readEnv(group, sources.env ?? {}, problems);
  const fromFlags = sources.flags === undefined ? new Map<Setting<unknown>, Given>() : readFlags(group, sources.flags.command, sources.flags.values, problems);
  const fromCode = new Map<Setting<unknown>, Given>();
  readOverrides(group.tree, sources.overrides ?? {}, "", fromCode, problems);
  throwIfAny(problems);

  const given = (setting: Setting<unknown>): Given | undefined => fromCode.get(setting) ?? fromFlags.get(setting) ?? fromEnv.get(setting);
  const resolved = new Map<Setting<unknown>, unknown>();
  const read: ReadSetting = <T, D extends boolean>(setting: Setting<T, D>) => {
    if (!resolved.has(setting)) {
      const fallback = setting.default;
      const value = given(setting)?.value ?? (fallback === undefined ? undefined : "value" in fallback ? fallback.value : fallback.from(read));
      resolved.set(setting, value);
    }
    return resolved.get(setting) as SettingValue<T, D>;
  };
  const paths = new Map(group.entries.map(({ path, setting }) => [setting, path]));
  const context: RuleContext = {
    read,
    isSet: (setting) => given(setting) !== undefined,
    given: (setting) => {
      const source = given(setting);
      const name = source?.label ?? setting.env[0] ?? paths.get(setting) ?? setting.description;
      if (source !== undefined) return `${name} (${setting.kind.secret ? "hidden" : source.written})`;
      const fallback = defaultText(setting);
      return fallback === undefined ? `${name} (not set)` : `${name} (default ${fallback})`;
    },
  };
  for (const rule of group.rules) {
    const problem = rule(context);
    if (problem !== undefined) problems.add(problem);
  }
  throwIfAny(problems);
  return build(group.tree, read) as SettingsValues<Tree>;
}

/**
 * Parses one command parameter that is not a setting (`invoke-async --wait-timeout`) with a
 * setting kind, so it accepts and reports exactly as settings do. Blank or absent: `undefined`.
 *
 * @example
 * ```ts
 * parseFlagValue("--wait-timeout", values["wait-timeout"], seconds()); // 1500 for "1.5"
 * ```
 */
export function parseFlagValue<T>(name: `--${string}`, written: string | undefined, kind: SettingKind<T>): T | undefined {
  if (written === undefined || written.trim() === "") return undefined;
  const parsed = kind.text.safeParse(written.trim());
  if (!parsed.success) throw new ConfigurationError(flagProblem(name, written, kind));
  return parsed.data;
}

function flagProblem(name: string, written: string, kind: SettingKind<unknown>): string {
  return `${name} ${JSON.stringify(written)} must be ${kind.expected}`;
}

function readEnv(group: SettingsGroup, env: Env, problems: Set<string>): GivenValues {
  const found: GivenValues = new Map();
  for (const { setting } of group.entries) {
    for (const name of setting.env) {
      const written = env[name]?.trim();
      if (written === undefined || written === "") continue;
      const parsed = setting.kind.text.safeParse(written);
      if (!parsed.success) problems.add(`${name}${setting.kind.secret ? "" : `=${JSON.stringify(written)}`} must be ${setting.kind.expected}`);
      else if (!found.has(setting)) found.set(setting, { value: parsed.data, label: name, written });
    }
  }
  return found;
}

function readFlags(group: SettingsGroup, command: CommandName, values: FlagValues, problems: Set<string>): GivenValues {
  const found: GivenValues = new Map();
  for (const { setting } of group.entries) {
    for (const declared of setting.flags) {
      const raw = declared.commands.includes(command) ? values[declared.name.slice(2)] : undefined;
      if (raw === undefined) continue;
      if (declared.sets !== undefined) {
        if (raw === true) found.set(setting, { value: declared.sets, label: declared.name, written: "given" });
        continue;
      }
      const occurrences = (Array.isArray(raw) ? raw : [raw]).filter((item): item is string => typeof item === "string" && item.trim() !== "");
      const parsed = occurrences.map((written) => {
        const result = setting.kind.text.safeParse(written.trim());
        if (!result.success) problems.add(flagProblem(declared.name, written, setting.kind));
        return result.data;
      });
      if (parsed.length === 0) continue;
      found.set(setting, { value: declared.repeatable ? parsed.flat() : parsed[0], label: declared.name, written: occurrences.join(",") });
    }
  }
  return found;
}

function readOverrides(tree: SettingTree, overrides: object, prefix: string, found: GivenValues, problems: Set<string>): void {
  for (const [key, value] of Object.entries(overrides) as [string, unknown][]) {
    if (value === undefined) continue;
    const path = `${prefix}${key}`;
    const node = Object.hasOwn(tree, key) ? tree[key] : undefined;
    if (node === undefined) {
      problems.add(`${path} is not a setting; ${prefix === "" ? "settings are" : `${prefix.slice(0, -1)} has`} ${Object.keys(tree).join(", ")}`);
    } else if (isSetting(node)) {
      const parsed = node.kind.value.safeParse(value);
      const written = node.kind.secret ? "" : `=${show(value)}`;
      if (!parsed.success) problems.add(`${path}${written} must be ${node.kind.expectedValue}`);
      else found.set(node, { value: parsed.data, label: path, written: show(value) });
    } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      readOverrides(node, value, `${path}.`, found, problems);
    } else {
      problems.add(`${path}=${show(value)} must be an object with ${Object.keys(node).join(", ")}`);
    }
  }
}

function show(value: unknown): string {
  return typeof value === "bigint" || typeof value === "function" || typeof value === "symbol" ? String(value) : JSON.stringify(value);
}

function build(tree: SettingTree, read: ReadSetting): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tree).map(([key, node]) => [key, isSetting(node) ? read(node) : build(node, read)]));
}

function throwIfAny(problems: Set<string>): void {
  if (problems.size === 0) return;
  const [first] = problems;
  throw new ConfigurationError(problems.size === 1 ? first : `${problems.size} invalid settings:\n  ${[...problems].join("\n  ")}`);
}
