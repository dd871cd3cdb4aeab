import { ConfigurationError } from "../errors.js";

/** A whole-number flag, or `undefined` when absent. */
export function integerFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new ConfigurationError(`--${name} ${JSON.stringify(value)} must be a whole number >= ${min}`);
  return parsed;
}

/** A flag given in seconds, returned in milliseconds, or `undefined` when absent. */
export function secondsFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new ConfigurationError(`--${name} ${JSON.stringify(value)} must be a positive number of seconds`);
  return Math.round(parsed * 1000);
}
