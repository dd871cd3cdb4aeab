/**
 * The numbers the JSON codecs refuse although `JSON.parse` accepts them: literals too large for a
 * 64-bit float, which it silently turns into ±Infinity (`1e400`). README.md, "Content types".
 * Internal.
 */

/** A problem in a JSON text and where it starts (a UTF-16 index into the text). */
export interface JsonProblem {
  readonly message: string;
  readonly index: number;
}

// A literal overflows only with an exponent of 3 or more digits, or, since an exponent has at
// most 2 digits otherwise, with over 200 digits before the fraction. Texts without either (nearly
// all) are cleared by these two scans, which cost a fraction of JSON.parse; the rest are scanned
// token by token.
const longExponent = /[eE][+-]?\d{3}/;
const longIntegerPart = /(?<![\d.])\d{200}/;
const numberToken = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const maxShownToken = 40;

/**
 * False when no number literal of `text` can be out of range for a 64-bit float; true when one
 * might be ({@link findNonFiniteNumber} tells). Two regular-expression scans, linear in the text.
 *
 * @example
 * ```ts
 * mayHoldNonFiniteNumber("[5.1, 3.5]"); // false
 * ```
 */
export function mayHoldNonFiniteNumber(text: string): boolean {
  return longExponent.test(text) || longIntegerPart.test(text);
}

/**
 * The first number literal of `text` (valid JSON) that is out of range for a 64-bit float, if any.
 * One pass over the text.
 *
 * @example
 * ```ts
 * findNonFiniteNumber('[1, "1e400", 1e400]'); // { message: "the number 1e400 is out of range ...", index: 13 }
 * ```
 */
export function findNonFiniteNumber(text: string): JsonProblem | undefined {
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x22 /* " */) {
      index = endOfString(text, index);
    } else if (char === 0x2d /* - */ || (char >= 0x30 && char <= 0x39)) {
      numberToken.lastIndex = index;
      const token = numberToken.exec(text)?.[0] ?? "-";
      if (!Number.isFinite(Number(token))) {
        const shown = token.length > maxShownToken ? `${token.slice(0, maxShownToken)}...` : token;
        return { message: `the number ${shown} is out of range for a 64-bit float (numbers must be finite)`, index };
      }
      index += token.length - 1;
    }
  }
  return undefined;
}

/**
 * "position 17 (line 2 column 5)", as V8 words JSON syntax errors.
 *
 * @example
 * ```ts
 * describePosition("[1,\n1e400]", 4); // "position 4 (line 2 column 1)"
 * ```
 */
export function describePosition(text: string, index: number): string {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf("\n"); at !== -1 && at < index; at = text.indexOf("\n", at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return `position ${index} (line ${line} column ${index - lineStart + 1})`;
}

function endOfString(text: string, quote: number): number {
  for (let index = quote + 1; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (char === 0x5c /* \ */) index++;
    else if (char === 0x22) return index;
  }
  return text.length;
}
