/**
 * The JSONPath subset of SageMaker's `InputFilter` and `OutputFilter` (docs/batch.md, "JSONPath
 * filters"): `$`, `.name`, `.*`, `['name'(,'name')]`, `[index(,index)]` with negative indexes
 * from the end, and one slice `[start:end]` whose end is included, as AWS's guide defines it
 * (`$[1:4]` is the second to the fifth element). A step that selects several elements
 * (`*`, several names or indexes, a slice) must be the last one.
 */

/** A filter that does not parse, or does not apply to a record. */
export class JsonPathError extends Error {
  override name = "JsonPathError";
}

/**
 * A parsed filter.
 *
 * @example
 * ```ts
 * parseJsonPath("$[1:]").select([1, 2, 3]); // [2, 3]
 * parseJsonPath("$['id','SageMakerOutput']").select({ id: 7, x: 1, SageMakerOutput: 0.9 }); // { id: 7, SageMakerOutput: 0.9 }
 * ```
 */
export interface JsonPath {
  /** The filter as written. */
  readonly text: string;
  /** `$`: selects the whole record. */
  readonly isRoot: boolean;
  /** Every step selects by index: the only kind of path a CSV row (an array) takes. */
  readonly indexesOnly: boolean;
  /** The selected part of `value`. @throws JsonPathError when a name or an index is not there. */
  select(value: unknown): unknown;
}

type Selector = { readonly kind: "index"; readonly index: number } | { readonly kind: "slice"; readonly start: number | undefined; readonly end: number | undefined };

type Step =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "names"; readonly names: readonly string[] }
  | { readonly kind: "index"; readonly index: number }
  | { readonly kind: "indexes"; readonly selectors: readonly Selector[] }
  | { readonly kind: "wildcard" };

/** `DataProcessing` filters are at most 63 characters (CreateTransformJob). */
const maxLength = 63;
const dotName = /^[^.[\]\s'"]+/;
const integerText = /^-?\d+$/;

/**
 * Parses a filter.
 *
 * @throws JsonPathError naming what is wrong and where.
 * @example
 * ```ts
 * parseJsonPath("$.features").select({ features: [1, 2] }); // [1, 2]
 * ```
 */
export function parseJsonPath(text: string): JsonPath {
  if (text.length > maxLength) throw new JsonPathError(`${JSON.stringify(text)} is longer than the ${maxLength} characters SageMaker allows`);
  if (!text.startsWith("$")) throw new JsonPathError(`${JSON.stringify(text)} must start with $`);
  const steps: Step[] = [];
  let rest = text.slice(1);
  while (rest !== "") {
    if (steps.length > 0 && isMulti(steps[steps.length - 1] as Step)) {
      throw new JsonPathError(`${JSON.stringify(text)}: only the last step may select several elements (*, a list or a range)`);
    }
    const [step, remaining] = parseStep(rest, text);
    steps.push(step);
    rest = remaining;
  }
  return {
    text,
    isRoot: steps.length === 0,
    indexesOnly: steps.every((step) => step.kind === "index" || step.kind === "indexes" || step.kind === "wildcard"),
    select: (value) => steps.reduce((current, step) => apply(step, current, text), value),
  };
}

function isMulti(step: Step): boolean {
  return step.kind === "names" || step.kind === "indexes" || step.kind === "wildcard";
}

function parseStep(rest: string, text: string): [Step, string] {
  if (rest.startsWith("..")) throw new JsonPathError(`${JSON.stringify(text)}: deep scan (..) is not in SageMaker's JSONPath subset`);
  if (rest.startsWith(".[")) return parseStep(rest.slice(1), text);
  if (rest.startsWith(".*")) return [{ kind: "wildcard" }, rest.slice(2)];
  if (rest.startsWith(".")) {
    const name = dotName.exec(rest.slice(1))?.[0];
    if (name === undefined) throw new JsonPathError(`${JSON.stringify(text)}: a name must follow "." at ${JSON.stringify(rest)}`);
    return [{ kind: "name", name }, rest.slice(1 + name.length)];
  }
  if (rest.startsWith("[")) {
    const close = closingBracket(rest, text);
    return [parseBracket(rest.slice(1, close), text), rest.slice(close + 1)];
  }
  throw new JsonPathError(`${JSON.stringify(text)}: expected "." or "[" at ${JSON.stringify(rest)}`);
}

/** The index of the `]` that closes the bracket `rest` starts with, skipping quoted names. */
function closingBracket(rest: string, text: string): number {
  let quote: string | undefined;
  for (let index = 1; index < rest.length; index++) {
    const char = rest[index] as string;
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === "]") {
      return index;
    }
  }
  throw new JsonPathError(`${JSON.stringify(text)}: "[" is not closed`);
}

function parseBracket(inside: string, text: string): Step {
  const parts = splitSelectors(inside).map((part) => part.trim());
  if (parts.length === 1 && parts[0] === "*") return { kind: "wildcard" };
  if (parts.some((part) => part.startsWith("?") || part.startsWith("("))) throw new JsonPathError(`${JSON.stringify(text)}: filter and script expressions are not in SageMaker's JSONPath subset`);
  const quoted = parts.map((part) => /^'([^']*)'$|^"([^"]*)"$/.exec(part));
  if (quoted.every((match) => match !== null)) {
    const names = quoted.map((match) => (match?.[1] ?? match?.[2]) as string);
    return names.length === 1 ? { kind: "name", name: names[0] as string } : { kind: "names", names };
  }
  if (quoted.some((match) => match !== null)) throw new JsonPathError(`${JSON.stringify(text)}: a bracket lists either names or indexes, not both`);
  const selectors = parts.map((part) => parseSelector(part, text));
  if (selectors.filter((selector) => selector.kind === "slice").length > 1) {
    throw new JsonPathError(`${JSON.stringify(text)}: only one range per bracket is supported, as in SageMaker ($[0,5:] but not $[0:2,5:])`);
  }
  const [first] = selectors;
  return selectors.length === 1 && first?.kind === "index" ? { kind: "index", index: first.index } : { kind: "indexes", selectors };
}

function splitSelectors(inside: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let index = 0; index < inside.length; index++) {
    const char = inside[index] as string;
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === ",") {
      parts.push(inside.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(inside.slice(start));
  return parts;
}

function parseSelector(part: string, text: string): Selector {
  if (integerText.test(part)) return { kind: "index", index: Number(part) };
  const range = /^(-?\d+)?\s*:\s*(-?\d+)?$/.exec(part);
  if (range === null) throw new JsonPathError(`${JSON.stringify(text)}: ${JSON.stringify(part)} is not an index, a range or a quoted name`);
  return { kind: "slice", start: range[1] === undefined ? undefined : Number(range[1]), end: range[2] === undefined ? undefined : Number(range[2]) };
}

function apply(step: Step, value: unknown, text: string): unknown {
  switch (step.kind) {
    case "name":
      return member(objectOf(value, text), step.name, text);
    case "names": {
      const record = objectOf(value, text);
      return Object.fromEntries(step.names.map((name) => [name, member(record, name, text)]));
    }
    case "index": {
      const array = arrayOf(value, text);
      return array[position(step.index, array.length, text)];
    }
    case "indexes": {
      const array = arrayOf(value, text);
      return step.selectors.flatMap((selector) => (selector.kind === "index" ? [array[position(selector.index, array.length, text)]] : range(array, selector, text)));
    }
    case "wildcard":
      if (Array.isArray(value)) return [...(value as unknown[])];
      return Object.values(objectOf(value, text));
  }
}

function objectOf(value: unknown, text: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new JsonPathError(`${text} selects by name, but the record ${describe(value)} is not a JSON object`);
  return value as Record<string, unknown>;
}

function arrayOf(value: unknown, text: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new JsonPathError(`${text} selects by index, but the record ${describe(value)} is not an array`);
  return value as unknown[];
}

function member(record: Record<string, unknown>, name: string, text: string): unknown {
  if (!Object.hasOwn(record, name)) throw new JsonPathError(`${text}: the record has no attribute ${JSON.stringify(name)}`);
  return record[name];
}

function position(index: number, length: number, text: string): number {
  const resolved = index < 0 ? length + index : index;
  if (resolved < 0 || resolved >= length) throw new JsonPathError(`${text}: index ${index} is outside the record's ${length} elements`);
  return resolved;
}

function range(array: readonly unknown[], selector: Extract<Selector, { kind: "slice" }>, text: string): unknown[] {
  const start = selector.start === undefined ? 0 : position(selector.start, array.length, text);
  const end = selector.end === undefined ? array.length - 1 : position(selector.end, array.length, text);
  if (end < start) throw new JsonPathError(`${text}: the range ends before it starts`);
  return array.slice(start, end + 1);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
