// A model that is not ONNX, served with one transformFn instead of inputFn -> predictFn ->
// outputFn. modelFn loads model/lexicon.json, a stand-in for your own artifacts (weights, a
// vocabulary, a tree ensemble): load them here once per worker, then score requests with them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BadRequestError, NotAcceptableError, UnsupportedMediaTypeError, type ModelContext, type RequestContext } from "sagemaker-byoc-node";

/** Words that count for and against. */
export interface Lexicon {
  readonly positive: ReadonlySet<string>;
  readonly negative: ReadonlySet<string>;
}

/** The answer to one text. */
export interface Sentiment {
  readonly sentiment: "positive" | "negative" | "neutral";
  /** From -1 (every matched word negative) to 1 (every one positive). */
  readonly score: number;
  readonly matched: { readonly positive: string[]; readonly negative: string[] };
}

/** Runs once per worker at start-up; /ping answers 200 once it has. */
export async function modelFn(modelDir: string, ctx: ModelContext): Promise<Lexicon> {
  const raw = JSON.parse(await readFile(join(modelDir, "lexicon.json"), "utf8")) as { positive: string[]; negative: string[] };
  ctx.log.info({ positive: raw.positive.length, negative: raw.negative.length }, "lexicon loaded");
  return { positive: new Set(raw.positive), negative: new Set(raw.negative) };
}

/** text/plain or {"text": "..."} in, a {@link Sentiment} as JSON out. */
export function transformFn(lexicon: Lexicon, body: Buffer, contentType: string, accept: string, ctx: RequestContext): { body: string; contentType: string } {
  if (!accept.startsWith("application/json")) throw new NotAcceptableError(`This endpoint answers application/json, not ${accept}`);
  const text = readText(body, contentType);
  const words = text.toLowerCase().match(/[\p{L}']+/gu) ?? [];
  const positive = words.filter((word) => lexicon.positive.has(word));
  const negative = words.filter((word) => lexicon.negative.has(word));
  const matched = positive.length + negative.length;
  const score = matched === 0 ? 0 : (positive.length - negative.length) / matched;
  const result: Sentiment = { sentiment: score > 0 ? "positive" : score < 0 ? "negative" : "neutral", score, matched: { positive, negative } };
  ctx.log.debug({ words: words.length, matched }, "scored");
  return { body: JSON.stringify(result), contentType: "application/json" };
}

function readText(body: Buffer, contentType: string): string {
  if (contentType.startsWith("text/plain")) return body.toString("utf8");
  if (!contentType.startsWith("application/json")) throw new UnsupportedMediaTypeError(`Send text/plain or application/json, not ${contentType}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new BadRequestError(`The body is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || !("text" in parsed) || typeof parsed.text !== "string") {
    throw new BadRequestError('Send {"text": "..."}');
  }
  return parsed.text;
}
