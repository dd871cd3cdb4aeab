import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { ConfigurationError } from "../errors.js";

/**
 * Parses the flags of a command that works on one project folder (`build`, `push`): strict flags,
 * and at most one positional argument, the folder.
 *
 * @example
 * ```ts
 * const { values, project } = parseProjectArgs("build", argv, { tag: { type: "string" } });
 * ```
 */
export function parseProjectArgs<const T extends ParseArgsOptionsConfig>(command: string, argv: string[], options: T) {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (positionals.length > 1) throw new ConfigurationError(`${command} takes one project folder, got ${positionals.length}: ${positionals.join(" ")}`);
  return { values, project: positionals[0] };
}
