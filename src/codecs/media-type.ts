import contentType from "content-type";
import Negotiator from "negotiator";
import { BadRequestError } from "../errors.js";

/** A parsed media type: the lowercase `type/subtype` essence and its parameters. */
export interface MediaType {
  /** Lowercase `type/subtype`, parameters removed, e.g. `text/csv`. */
  readonly essence: string;
  /** Parameters with lowercase names, e.g. `{ charset: "utf-8" }`. */
  readonly parameters: Readonly<Record<string, string>>;
}

/**
 * Parses a Content-Type header value. Matching is case-insensitive and ignores parameters
 * (docs/sagemaker-contract.md: SageMaker passes the client's value on, `text/csv; charset=utf-8` included).
 *
 * @example
 * ```ts
 * parseMediaType("Text/CSV; charset=UTF-8"); // { essence: "text/csv", parameters: { charset: "UTF-8" } }
 * ```
 */
export function parseMediaType(header: string): MediaType {
  try {
    // Some clients end the header with a stray ";" (`text/csv;`): tolerate it.
    const parsed = contentType.parse(header.trim().replace(/;\s*$/, ""));
    return { essence: parsed.type.toLowerCase(), parameters: parsed.parameters };
  } catch (error) {
    throw new BadRequestError(`Malformed Content-Type header: ${JSON.stringify(header)}`, {
      code: "MALFORMED_CONTENT_TYPE",
      cause: error,
    });
  }
}

/**
 * Picks the media type to answer with: the Accept header's preferred entry among `available`
 * (q-values honoured, wildcards allowed), or `defaultAccept` when Accept is absent or `*\/*`.
 * Returns `undefined` when nothing acceptable is available.
 *
 * @example
 * ```ts
 * negotiateAccept("text/csv;q=0.5, application/json", ["application/json", "text/csv"], "application/json"); // "application/json"
 * ```
 */
export function negotiateAccept(
  accept: string | undefined,
  available: readonly string[],
  defaultAccept: string,
): string | undefined {
  const trimmed = accept?.trim();
  if (trimmed === undefined || trimmed === "" || trimmed === "*/*") return defaultAccept;
  // Negotiator only matches a range with parameters to a type with the same parameters; the
  // toolkit ignores them (docs/sagemaker-contract.md, Content-Type and Accept), so keep only the q-value.
  const ranges = trimmed
    .split(",")
    .map((range) => {
      const [type = "", ...parameters] = range.split(";");
      const quality = parameters.find((parameter) => /^\s*q\s*=/i.test(parameter));
      return quality === undefined ? type.trim() : `${type.trim()};${quality.trim()}`;
    })
    .join(", ");
  const negotiator = new Negotiator({ headers: { accept: ranges } });
  const preferred = negotiator.mediaTypes([...available]);
  if (preferred.length === 0) return undefined;
  // A wildcard that ties with the default (e.g. "*/*;q=0.8, text/csv;q=0.8") keeps the default first.
  const top = preferred[0];
  if (preferred.includes(defaultAccept) && negotiator.mediaTypes([defaultAccept, top as string])[0] === defaultAccept) {
    return defaultAccept;
  }
  return top;
}
