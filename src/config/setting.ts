import type { SettingKind } from "./kinds.js";

/**
 * The CLI commands whose flags can carry settings.
 *
 * @example
 * ```ts
 * const command: CommandName = "serve";
 * ```
 */
export type CommandName = "serve" | "gateway" | "pipeline" | "invoke" | "invoke-async" | "async-requests" | "build" | "push";

/**
 * A CLI flag that sets a setting, and the commands that take it.
 *
 * @example
 * ```ts
 * const portFlag: FlagDeclaration = flag("--port", ["serve"]);
 * ```
 */
export interface FlagDeclaration {
  /** As typed, with its dashes: `--port`. */
  readonly name: `--${string}`;
  readonly commands: readonly CommandName[];
  /** For a switch (a flag without a value, such as `--async` or `--no-build`): the value it sets. */
  readonly sets: boolean | undefined;
  /** The flag may be given several times (`--tag a --tag b`); the lists add up. */
  readonly repeatable: boolean;
}

/**
 * Declares a flag: by default it takes a value (`--port 8080`); `sets` makes it a switch.
 *
 * @example
 * ```ts
 * flag("--no-build", ["build"], { sets: false });
 * ```
 */
export function flag(
  name: `--${string}`,
  commands: readonly CommandName[],
  options: { readonly sets?: boolean; readonly repeatable?: boolean } = {},
): FlagDeclaration {
  return { name, commands, sets: options.sets, repeatable: options.repeatable ?? false };
}

const settingBrand = Symbol("setting");

/**
 * Reads another setting's value while a default is derived or a rule is checked.
 *
 * @example
 * ```ts
 * const derive = (read: ReadSetting) => Math.max(1, Math.floor(8 / read(workers)));
 * ```
 */
export type ReadSetting = <T, D extends boolean>(setting: Setting<T, D>) => SettingValue<T, D>;

/** What a setting resolves to: its type, or `undefined` too when it has no default. */
export type SettingValue<T, D extends boolean> = D extends true ? T : T | undefined;

/**
 * A default worked out from other settings or the machine (worker count from the CPU count).
 * `text` says what it is in tables and usage texts.
 */
export interface DerivedDefault<T> {
  readonly text: string;
  from(read: ReadSetting): T;
}

/**
 * One setting, declared once: how it is read from the environment and the CLI, what it accepts,
 * its default and what it does. Everything else (reading, validating, flags, tables) is
 * generated from it.
 *
 * @example
 * ```ts
 * const port = setting({
 *   kind: integer({ min: 0, max: 65535 }),
 *   env: "SAGEMAKER_BIND_TO_PORT",
 *   flag: flag("--port", ["serve"]),
 *   default: 8080,
 *   description: "TCP port",
 * });
 * ```
 */
export interface Setting<T, D extends boolean = boolean> {
  readonly [settingBrand]: true;
  readonly kind: SettingKind<T>;
  /** Environment variables, in order of precedence: the first one set wins. */
  readonly env: readonly string[];
  readonly flags: readonly FlagDeclaration[];
  /** True when the setting always has a value (a default or a derived one). */
  readonly defaulted: D;
  readonly default: { readonly value: T } | DerivedDefault<T> | undefined;
  /** What applies when a setting without default is not set, for tables ("ONNX Runtime's"). */
  readonly unsetText: string | undefined;
  /** One line: what the setting does. Code-like words go in backticks, for the Markdown tables. */
  readonly description: string;
}

interface SettingSpecBase<T> {
  readonly kind: SettingKind<T>;
  readonly env?: string | readonly string[];
  readonly flag?: FlagDeclaration | readonly FlagDeclaration[];
  readonly description: string;
}

/**
 * Declares a setting. Give `default` (a value) or `derive` (a default worked out at load time),
 * or neither: then the setting is `undefined` when unset, and `unset` says what applies.
 *
 * @example
 * ```ts
 * const workers = setting({
 *   kind: integer({ min: 1, max: 1024 }),
 *   env: "SAGEMAKER_MODEL_SERVER_WORKERS",
 *   derive: { text: "CPU count − 1, at least 1", from: () => Math.max(1, availableParallelism() - 1) },
 *   description: "inference worker threads",
 * });
 * ```
 */
export function setting<T>(spec: SettingSpecBase<T> & { readonly default: NoInfer<T> }): Setting<T, true>;
export function setting<T>(spec: SettingSpecBase<T> & { readonly derive: DerivedDefault<NoInfer<T>> }): Setting<T, true>;
export function setting<T>(spec: SettingSpecBase<T> & { readonly unset?: string }): Setting<T, false>;
export function setting<T>(
  spec: SettingSpecBase<T> & { readonly default?: T; readonly derive?: DerivedDefault<T>; readonly unset?: string },
): Setting<T, boolean> {
  const fallback = spec.derive ?? ("default" in spec && spec.default !== undefined ? { value: spec.default } : undefined);
  return {
    [settingBrand]: true,
    kind: spec.kind,
    env: spec.env === undefined ? [] : typeof spec.env === "string" ? [spec.env] : spec.env,
    flags: spec.flag === undefined ? [] : "name" in spec.flag ? [spec.flag] : spec.flag,
    defaulted: fallback !== undefined,
    default: fallback,
    unsetText: spec.unset,
    description: spec.description,
  };
}

/**
 * The default as tables and usage texts show it, or `undefined` when there is none to show.
 *
 * @example
 * ```ts
 * defaultText(port); // "8080"
 * ```
 */
export function defaultText(setting: Setting<unknown>): string | undefined {
  const fallback = setting.default;
  if (fallback === undefined) return setting.unsetText;
  return "value" in fallback ? setting.kind.format(fallback.value) : fallback.text;
}

/** Settings nested as the configuration object they make (`onnx.deviceId`). */
export type SettingTree = { readonly [key: string]: Setting<unknown> | SettingTree };

/**
 * The configuration a tree of settings makes.
 *
 * @example
 * ```ts
 * type Config = SettingsValues<{ port: Setting<number, true> }>; // { readonly port: number }
 * ```
 */
export type SettingsValues<Tree extends SettingTree> = {
  readonly [K in keyof Tree]: Tree[K] extends Setting<infer T, infer D>
    ? SettingValue<T, D>
    : Tree[K] extends SettingTree
      ? SettingsValues<Tree[K]>
      : never;
};

/**
 * What code may override: any setting, at any depth; `undefined` leaves it to the environment.
 *
 * @example
 * ```ts
 * const overrides: SettingsOverrides<{ port: Setting<number, true> }> = { port: 9000 };
 * ```
 */
export type SettingsOverrides<Tree extends SettingTree> = {
  -readonly [K in keyof Tree]?:
    | (Tree[K] extends Setting<infer T> ? T : Tree[K] extends SettingTree ? SettingsOverrides<Tree[K]> : never)
    | undefined;
};

/**
 * A rule across settings, checked once all sources are merged. It returns the problem (naming
 * the settings as the user gave them, see {@link RuleContext.given}) or `undefined`.
 *
 * @example
 * ```ts
 * const rule: SettingsRule = ({ read, given }) =>
 *   read(retryMax) < read(retryBase) ? `${given(retryMax)} must not be below ${given(retryBase)}` : undefined;
 * ```
 */
export type SettingsRule = (context: RuleContext) => string | undefined;

/** What a {@link SettingsRule} sees. */
export interface RuleContext {
  readonly read: ReadSetting;
  /** The setting as the user gave it: `BYOC_ASYNC_RETRY_MAX_SECONDS (1)`, `retryMaxMs (100)`, or its default. */
  readonly given: (setting: Setting<unknown>) => string;
  /** Whether the setting got a value from any source (its default does not count). */
  readonly isSet: (setting: Setting<unknown>) => boolean;
}

/** One setting of a group and where it sits in the configuration (`onnx.deviceId`). */
export interface SettingEntry {
  readonly path: string;
  readonly setting: Setting<unknown>;
}

/**
 * Settings that load together into one configuration object, with the rules across them.
 *
 * @example
 * ```ts
 * const group = defineSettings({ port, host }, []);
 * ```
 */
export interface SettingsGroup<Tree extends SettingTree = SettingTree> {
  readonly tree: Tree;
  /** Every setting in declaration order, with its path. */
  readonly entries: readonly SettingEntry[];
  readonly rules: readonly SettingsRule[];
}

/**
 * Makes a group of the `tree` of settings and the `rules` across them.
 *
 * @example
 * ```ts
 * export const serverSettings = defineSettings({ port, host, onnx: { deviceId } });
 * ```
 */
export function defineSettings<const Tree extends SettingTree>(tree: Tree, rules: readonly SettingsRule[] = []): SettingsGroup<Tree> {
  return { tree, entries: flatten(tree, ""), rules };
}

/**
 * True for a setting, false for a nested tree of them.
 *
 * @example
 * ```ts
 * isSetting(serverSettings.tree.port); // true
 * ```
 */
export function isSetting(node: Setting<unknown> | SettingTree): node is Setting<unknown> {
  return settingBrand in node;
}

function flatten(tree: SettingTree, prefix: string): SettingEntry[] {
  return Object.entries(tree).flatMap(([key, node]) =>
    isSetting(node) ? [{ path: `${prefix}${key}`, setting: node }] : flatten(node, `${prefix}${key}.`),
  );
}
