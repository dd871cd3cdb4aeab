import { ConfigurationError } from "../errors.js";

/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed, validated reads of environment variables. Every failure is a {@link ConfigurationError}
 * naming the variable and what it accepts. Used by the configuration loaders only: no other
 * module reads the environment.
 */
export class EnvReader {
  readonly #env: Env;
  constructor(env: Env) {
    this.#env = env;
  }

  optionalString(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    const raw = this.optionalString(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigurationError(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
    }
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(name, min, max) ?? fallback;
  }

  /** A duration given in seconds (fractions allowed), returned in milliseconds. */
  seconds(name: string, fallbackMs: number): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallbackMs;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new ConfigurationError(`${name}=${JSON.stringify(raw)} must be a positive number of seconds`);
    }
    return Math.round(value * 1000);
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    throw new ConfigurationError(`${name}=${JSON.stringify(raw)} must be true or false`);
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    const match = choices.find((choice) => choice === raw);
    if (match === undefined) throw new ConfigurationError(`${name}=${JSON.stringify(raw)} must be one of ${choices.join(", ")}`);
    return match;
  }

  list<T extends string>(name: string, choices: readonly T[]): T[] | undefined {
    const raw = this.optionalString(name);
    if (raw === undefined) return undefined;
    return parseList(name, raw, choices);
  }

  mediaType(name: string, fallback: string): string {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(raw)) {
      throw new ConfigurationError(`${name}=${JSON.stringify(raw)} must be a media type such as application/json`);
    }
    return raw;
  }
}

/**
 * Parses a comma-separated list of choices, e.g. `cuda,cpu` for execution providers.
 *
 * @example
 * ```ts
 * parseList("--providers", "cuda, cpu", ["cuda", "tensorrt", "webgpu", "cpu"]); // ["cuda", "cpu"]
 * ```
 */
export function parseList<T extends string>(source: string, raw: string, choices: readonly T[]): T[] {
  const items = raw.split(",").map((item) => item.trim().toLowerCase()).filter((item) => item !== "");
  const invalid = items.filter((item) => !choices.includes(item as T));
  if (items.length === 0 || invalid.length > 0) {
    throw new ConfigurationError(`${source}=${JSON.stringify(raw)} must list some of ${choices.join(", ")}, separated by commas`);
  }
  return items as T[];
}

