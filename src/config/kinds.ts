import { z } from "zod";

/**
 * What a setting holds and how its values are read: the same validator checks a value written as
 * text (an environment variable, a CLI flag) and one given in code (`loadConfig(env, { port })`),
 * so every source accepts exactly the same values.
 *
 * @example
 * ```ts
 * const port: SettingKind<number> = integer({ min: 0, max: 65535 });
 * port.text.safeParse("8080"); // { success: true, data: 8080 }
 * port.expected; // "a whole number from 0 to 65535"
 * ```
 */
export interface SettingKind<T> {
  /** What a text value must be, completing "must be ...". */
  readonly expected: string;
  /** What a value given in code must be, when it differs from the text (durations are in ms there). */
  readonly expectedValue: string;
  /** The value placeholder in usage texts: `<n>`, `<seconds>`, `<url>`. */
  readonly placeholder: string;
  /** Parses a (trimmed, non-blank) text value. */
  readonly text: z.ZodType<T, string>;
  /** Checks a value given in code. */
  readonly value: z.ZodType<T>;
  /** True when the value must never be printed (passwords, secret keys). */
  readonly secret: boolean;
  /** The value as a user would write it in a variable or flag (durations in seconds). */
  format(value: T): string;
}

interface KindSpec<T> {
  readonly expected: string;
  readonly expectedValue?: string;
  readonly placeholder: string;
  readonly text: z.ZodType<T, string>;
  readonly value: z.ZodType<T>;
  readonly secret?: boolean;
  readonly format?: (value: T) => string;
}

function kind<T>(spec: KindSpec<T>): SettingKind<T> {
  return {
    expected: spec.expected,
    expectedValue: spec.expectedValue ?? spec.expected,
    placeholder: spec.placeholder,
    text: spec.text,
    value: spec.value,
    secret: spec.secret ?? false,
    format: spec.format ?? String,
  };
}

const wholeNumberText = /^[+-]?\d+$/;
const decimalText = /^\d+(?:\.\d*)?$|^\.\d+$/;

/**
 * A whole number within bounds; `unit` names what it counts, for messages and tables.
 *
 * @example
 * ```ts
 * integer({ min: 1, unit: "bytes" }).expected; // "a whole number, at least 1 (bytes)"
 * ```
 */
export function integer(options: { readonly min: number; readonly max?: number; readonly unit?: string }): SettingKind<number> {
  const { min, max = Number.MAX_SAFE_INTEGER, unit } = options;
  const range = max === Number.MAX_SAFE_INTEGER ? `, at least ${min}` : ` from ${min} to ${max}`;
  const value = z.int().min(min).max(max);
  return kind({
    expected: `a whole number${range}${unit === undefined ? "" : ` (${unit})`}`,
    placeholder: "<n>",
    text: z.string().regex(wholeNumberText).transform(Number).pipe(value),
    value,
    format: (count) => (unit === "bytes" ? withBinaryUnit(count) : String(count)),
  });
}

/** Node's timers fire at once beyond 2^31 - 1 ms (about 24.8 days), so timed settings stop there. */
export const maxTimerSeconds = Math.floor((2 ** 31 - 1) / 1000);

/**
 * A duration written in seconds (fractions allowed) in variables and flags, held in milliseconds.
 * Programmatic values are milliseconds, as the option names say (`timeoutMs`).
 *
 * @example
 * ```ts
 * seconds().text.parse("1.5"); // 1500
 * ```
 */
export function seconds(options: { readonly max?: number } = {}): SettingKind<number> {
  const { max } = options;
  const maxMs = max === undefined ? Number.MAX_SAFE_INTEGER : max * 1000;
  const value = z.int().min(1).max(maxMs);
  return kind({
    expected: `a positive number of seconds${max === undefined ? "" : ` up to ${max}`}`,
    expectedValue: `a positive whole number of milliseconds${max === undefined ? "" : ` up to ${maxMs}`}`,
    placeholder: "<seconds>",
    text: z
      .string()
      .regex(decimalText)
      .transform((written) => Math.round(Number(written) * 1000))
      .pipe(value),
    value,
    format: (ms) => withDayOrHour(ms / 1000),
  });
}

/** The one set of boolean spellings every source accepts, in any letter case. */
export const booleanSpellings = { true: ["true", "1", "yes", "on"], false: ["false", "0", "no", "off"] } as const;

/**
 * `true` or `false`, also written `1`/`0`, `yes`/`no`, `on`/`off`, in any letter case.
 *
 * @example
 * ```ts
 * boolean().text.parse("Off"); // false
 * ```
 */
export function boolean(): SettingKind<boolean> {
  return kind({
    expected: "true or false (or 1/0, yes/no, on/off)",
    expectedValue: "true or false",
    placeholder: "<true|false>",
    text: z.stringbool({ truthy: [...booleanSpellings.true], falsy: [...booleanSpellings.false], case: "insensitive" }),
    value: z.boolean(),
  });
}

/**
 * One of fixed values, matched in any letter case; `aliases` maps other spellings onto them
 * (Python's numeric log levels).
 *
 * @example
 * ```ts
 * oneOf(["sequential", "parallel"]).text.parse("Parallel"); // "parallel"
 * ```
 */
export function oneOf<const T extends string>(
  choices: readonly T[],
  options: { readonly aliases?: Readonly<Record<string, T>>; readonly expected?: string; readonly placeholder?: string } = {},
): SettingKind<T> {
  const byName = new Map<string, T>();
  for (const [alias, choice] of Object.entries(options.aliases ?? {})) byName.set(alias.toLowerCase(), choice);
  for (const choice of choices) byName.set(choice.toLowerCase(), choice);
  const value = z.enum(choices as [T, ...T[]]);
  return kind({
    expected: options.expected ?? `one of ${choices.join(", ")}`,
    placeholder: options.placeholder ?? `<${choices.join("|")}>`,
    text: z.string().transform((written, context) => {
      const choice = byName.get(written.toLowerCase());
      if (choice === undefined) context.addIssue("unknown choice");
      return choice as T;
    }),
    value,
  });
}

/**
 * A list of `item`s, comma-separated in text (`cuda,cpu`); a repeatable flag adds up its
 * occurrences. Text never gives an empty list (a blank value counts as unset); in code,
 * `allowEmpty` permits `[]`.
 *
 * @example
 * ```ts
 * list(oneOf(["a", "b"]), { expected: "a comma-separated list of a, b" }).text.parse("b,a"); // ["b", "a"]
 * ```
 */
export function list<T>(
  item: SettingKind<T>,
  options: { readonly expected: string; readonly allowEmpty?: boolean; readonly placeholder?: string },
): SettingKind<readonly T[]> {
  return kind({
    expected: options.expected,
    expectedValue: `${options.allowEmpty === true ? "an" : "a non-empty"} array, each ${item.expectedValue}`,
    placeholder: options.placeholder ?? item.placeholder,
    text: z
      .string()
      .transform((written) =>
        written
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== ""),
      )
      .pipe(z.array(item.text).min(1)),
    value: z
      .array(item.value)
      .min(options.allowEmpty === true ? 0 : 1)
      .readonly(),
    format: (items) => items.map((value) => item.format(value)).join(","),
  });
}

/**
 * A list of choices in order of preference, comma-separated in text (`cuda,cpu`).
 *
 * @example
 * ```ts
 * listOf(["cuda", "tensorrt", "webgpu", "cpu"]).text.parse("CUDA, cpu"); // ["cuda", "cpu"]
 * ```
 */
export function listOf<const T extends string>(choices: readonly T[], options: { readonly allowEmpty?: boolean } = {}): SettingKind<readonly T[]> {
  return list(oneOf(choices), { expected: `a comma-separated list of ${choices.join(", ")}`, placeholder: "<list>", ...options });
}

/**
 * A name as SageMaker allows for endpoints, variants and models: 1-63 letters, digits and
 * hyphens, starting and ending with a letter or digit.
 *
 * @example
 * ```ts
 * sagemakerName().text.safeParse("my_endpoint").success; // false
 * ```
 */
export function sagemakerName(): SettingKind<string> {
  return matching(/^[a-zA-Z0-9](?:-*[a-zA-Z0-9])*$/, "1-63 letters, digits and hyphens, starting and ending with a letter or digit", {
    placeholder: "<name>",
    maxLength: 63,
  });
}

/**
 * Free text, such as a path or a host name: anything but a blank value.
 *
 * @example
 * ```ts
 * text("a directory").expected; // "a directory"
 * ```
 */
export function text(expected: string, options: { readonly placeholder?: string; readonly secret?: boolean } = {}): SettingKind<string> {
  const value = z.string().trim().min(1);
  return kind({ expected, placeholder: options.placeholder ?? "<text>", text: value, value, secret: options.secret ?? false });
}

/**
 * Text matching `pattern` (after `normalise`, when given), described by `expected`.
 *
 * @example
 * ```ts
 * matching(/^[0-9]{12}$/, "12 digits").text.safeParse("123").success; // false
 * ```
 */
export function matching(
  pattern: RegExp,
  expected: string,
  options: { readonly placeholder?: string; readonly maxLength?: number; readonly normalise?: (written: string) => string } = {},
): SettingKind<string> {
  const { normalise = (written: string) => written, maxLength = Number.MAX_SAFE_INTEGER } = options;
  const value = z.string().trim().transform(normalise).pipe(z.string().max(maxLength).regex(pattern));
  return kind({ expected, placeholder: options.placeholder ?? "<text>", text: value, value });
}

/**
 * A media type without parameters, kept in lower case (`text/csv`).
 *
 * @example
 * ```ts
 * mediaType().text.parse("Text/CSV"); // "text/csv"
 * ```
 */
export function mediaType(): SettingKind<string> {
  return matching(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/, "a media type such as application/json", {
    placeholder: "<type>",
    normalise: (written) => written.toLowerCase(),
  });
}

/**
 * An `http://` or `https://` URL.
 *
 * @example
 * ```ts
 * httpUrl().text.safeParse("localhost:4566").success; // false: no scheme
 * ```
 */
export function httpUrl(): SettingKind<string> {
  const value = z.string().trim().pipe(z.url({ protocol: /^https?$/ }));
  return kind({ expected: "an http:// or https:// URL", placeholder: "<url>", text: value, value });
}

/**
 * An AWS region name such as `us-east-1` or `eu-central-2`.
 *
 * @example
 * ```ts
 * region().text.safeParse("us-east1").success; // false
 * ```
 */
export function region(): SettingKind<string> {
  return matching(/^[a-z]{2,}(?:-[a-z]+)+-\d+$/, "an AWS region such as us-east-1", { placeholder: "<region>" });
}

/**
 * An S3 URI, `s3://bucket` with an optional key or prefix, without `.` or `..` segments (a store
 * or proxy that collapses them would write elsewhere: docs/async.md, "Safe locations").
 *
 * @example
 * ```ts
 * s3Uri().text.safeParse("bucket/out").success; // false
 * s3Uri().text.safeParse("s3://bucket/out/../other").success; // false
 * ```
 */
export function s3Uri(): SettingKind<string> {
  return matching(/^s3:\/\/[^/\s]+(?:\/(?!\.\.?(?:\/|$))[^/\s]*)*$/, "an S3 URI such as s3://bucket/prefix, without . or .. segments", { placeholder: "<s3 uri>" });
}

/**
 * An inclusive range of TCP ports written `first-last`, as SageMaker writes
 * `SAGEMAKER_SAFE_PORT_RANGE` (docs/sagemaker-contract.md).
 *
 * @example
 * ```ts
 * portRange().text.parse("9100-9110"); // { first: 9100, last: 9110 }
 * ```
 */
export function portRange(): SettingKind<PortRange> {
  const port = z.int().min(1).max(65535);
  const value = z
    .object({ first: port, last: port })
    .readonly()
    .refine((range) => range.first <= range.last);
  return kind({
    expected: "a port range such as 9100-9110 (first-last, 1 to 65535)",
    placeholder: "<first-last>",
    text: z
      .string()
      .regex(/^\d+-\d+$/)
      .transform((written) => {
        const [first, last] = written.split("-").map(Number) as [number, number];
        return { first, last };
      })
      .pipe(value),
    value,
    format: (range) => `${range.first}-${range.last}`,
  });
}

/**
 * Ports from `first` to `last`, both included.
 *
 * @example
 * ```ts
 * const range: PortRange = { first: 9100, last: 9110 };
 * ```
 */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

const withDayOrHour = (secondsCount: number): string => {
  if (secondsCount >= 86_400 && secondsCount % 86_400 === 0) return `${secondsCount} (${secondsCount / 86_400} days)`;
  if (secondsCount >= 3600 && secondsCount % 3600 === 0) return `${secondsCount} (${secondsCount / 3600} h)`;
  return String(secondsCount);
};

const withBinaryUnit = (count: number): string => {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
  ] as const) {
    if (count >= size && count % size === 0) return `${count} (${count / size} ${unit})`;
  }
  return String(count);
};
