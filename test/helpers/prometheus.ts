/**
 * Reads a `/metrics` answer with a parser of Prometheus's text exposition format (version 0.0.4:
 * `# HELP` and `# TYPE` lines, samples `name{label="value",...} value [timestamp]`, label values
 * escaping `\\`, `\"` and `\n`), never with regular expressions over the whole text. The one
 * parser on the npm registry, parse-prometheus-text-format, merges every labelled histogram
 * series into one, so this one is written here and checked against prom-client's own output
 * (test/protocols/metrics/exposition-parser.test.ts).
 */
import assert from "node:assert/strict";

/** One series: its labels, and its value or (histograms) its buckets by `le`, count and sum. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number | undefined;
  readonly buckets: ReadonlyMap<string, number> | undefined;
  readonly count: number | undefined;
  readonly sum: number | undefined;
}

/** A metric family: its type as `# TYPE` gives it (`untyped` without one), its help and series. */
export interface Family {
  readonly type: string;
  readonly help: string;
  readonly series: readonly Series[];
}

/** The families of an exposition by name. */
export type Scrape = ReadonlyMap<string, Family>;

/** GETs `url` (a `/metrics` URL), checks the Prometheus text content type, and parses the body. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url} answers 200`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

interface MutableFamily {
  type: string;
  help: string;
  readonly series: Map<string, { labels: Record<string, string>; value?: number; buckets?: Map<string, number>; count?: number; sum?: number }>;
}

/**
 * Parses an exposition in Prometheus's text format. Histogram and summary lines (`_bucket`,
 * `_sum`, `_count`) join their family's series, one per label set without `le`/`quantile`.
 * Throws on a line that is not a comment or a well-formed sample.
 */
export function parseExposition(text: string): Scrape {
  const families = new Map<string, MutableFamily>();
  const familyOf = (name: string): MutableFamily => {
    let family = families.get(name);
    if (family === undefined) families.set(name, (family = { type: "untyped", help: "", series: new Map() }));
    return family;
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta !== null) {
      const family = familyOf(meta[2] as string);
      if (meta[1] === "HELP") family.help = unescape(meta[3] ?? "", false);
      else family.type = meta[3] ?? "untyped";
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = parseSample(line);
    const { familyName, suffix } = familyFor(sample.name, families);
    const family = familyOf(familyName);
    const grouping = Object.fromEntries(Object.entries(sample.labels).filter(([name]) => name !== "le" && name !== "quantile"));
    const key = JSON.stringify(Object.entries(grouping).sort(([a], [b]) => a.localeCompare(b)));
    let series = family.series.get(key);
    if (series === undefined) family.series.set(key, (series = { labels: grouping }));
    if (suffix === "_bucket") {
      const le = sample.labels["le"] ?? assert.fail(`a bucket without le: ${line}`);
      (series.buckets ??= new Map()).set(le, sample.value);
    } else if (suffix === "_sum") series.sum = sample.value;
    else if (suffix === "_count") series.count = sample.value;
    else series.value = sample.value;
  }
  return new Map(
    [...families].map(([name, family]) => [
      name,
      {
        type: family.type,
        help: family.help,
        series: [...family.series.values()].map((series) => ({
          labels: series.labels,
          value: series.value,
          buckets: series.buckets,
          count: series.count,
          sum: series.sum,
        })),
      },
    ]),
  );
}

/** The series of `name` whose labels include `labels`; fails when there is not exactly one. */
export function seriesOf(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): Series {
  const family = scraped.get(name) ?? assert.fail(`no metric ${name}; there are ${[...scraped.keys()].join(", ")}`);
  const matching = family.series.filter((series) => Object.entries(labels).every(([key, value]) => series.labels[key] === value));
  assert.equal(matching.length, 1, `one ${name} series with ${JSON.stringify(labels)}, got ${JSON.stringify(family.series.map((series) => series.labels))}`);
  return matching[0] as Series;
}

/** The value of the series of `name` with `labels`; 0 when there is no such series (a counter not yet counted). */
export function valueOf(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const series = scraped.get(name)?.series.find((candidate) => Object.entries(labels).every(([key, value]) => candidate.labels[key] === value));
  return series?.value ?? 0;
}

/** `x_bucket` belongs to the histogram `x` (and `_sum`/`_count` to a histogram or summary) when `x` is declared one. */
function familyFor(name: string, families: ReadonlyMap<string, MutableFamily>): { familyName: string; suffix: string | undefined } {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return { familyName: base, suffix };
  }
  return { familyName: name, suffix: undefined };
}

function parseSample(line: string): { name: string; labels: Record<string, string>; value: number } {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? assert.fail(`not a sample line: ${line}`);
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === "{") {
    position++;
    while (line[position] !== "}") {
      const label = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position)) ?? assert.fail(`a malformed label in: ${line}`);
      position += label[0].length;
      let value = "";
      while (line[position] !== '"') {
        if (position >= line.length) assert.fail(`an unterminated label value in: ${line}`);
        if (line[position] === "\\") {
          value += line.slice(position, position + 2);
          position += 2;
        } else {
          value += line[position];
          position++;
        }
      }
      labels[label[1] as string] = unescape(value, true);
      position++;
      if (line[position] === ",") position++;
    }
    position++;
  }
  const [valueText] = line.slice(position).trim().split(/\s+/);
  return { name, labels, value: parseValue(valueText ?? assert.fail(`no value in: ${line}`)) };
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN" || text === "Nan") return Number.NaN;
  const value = Number(text);
  assert.ok(!Number.isNaN(value), `not a sample value: ${text}`);
  return value;
}

/** Help text escapes `\\` and `\n`; label values also `\"`. */
function unescape(text: string, quotes: boolean): string {
  return text.replace(/\\(.)/g, (escape, character: string) => {
    if (character === "\\") return "\\";
    if (character === "n") return "\n";
    if (character === '"' && quotes) return '"';
    return escape;
  });
}
