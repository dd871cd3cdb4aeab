/**
 * Reads a `/metrics` answer with a Prometheus text-format parser (parse-prometheus-text-format, an
 * npm package whose output follows prom2json's), never with regular expressions.
 */
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One series: its labels, and its value or (histograms) its buckets, count and sum, as numbers. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number | undefined;
  readonly buckets: ReadonlyMap<string, number> | undefined;
  readonly count: number | undefined;
  readonly sum: number | undefined;
}

/** The families of an exposition by name, each with its type and series. */
export type Scrape = ReadonlyMap<string, { readonly type: string; readonly help: string; readonly series: readonly Series[] }>;

/** GETs `url` (a `/metrics` URL), checks the Prometheus text content type, and parses the body. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url} answers 200`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

/** Parses an exposition in Prometheus's text format. */
export function parseExposition(text: string): Scrape {
  const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));
  return new Map(
    parsePrometheusTextFormat(text).map((family) => [
      family.name,
      {
        type: family.type,
        help: family.help,
        series: family.metrics.map((sample) => ({
          labels: sample.labels ?? {},
          value: number(sample.value),
          buckets: sample.buckets === undefined ? undefined : new Map(Object.entries(sample.buckets).map(([le, count]) => [le, Number(count)])),
          count: number(sample.count),
          sum: number(sample.sum),
        })),
      },
    ]),
  );
}

/** The series of `name` whose labels include `labels`; fails when there is not exactly one. */
export function seriesOf(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): Series {
  const family = scraped.get(name) ?? assert.fail(`no metric ${name}; there are ${[...scraped.keys()].join(", ")}`);
  const matching = family.series.filter((series) => Object.entries(labels).every(([key, value]) => series.labels[key] === value));
  assert.equal(matching.length, 1, `one ${name} series with ${JSON.stringify(labels)}, got ${JSON.stringify(matching.map((series) => series.labels))}`);
  return matching[0] as Series;
}

/** The value of the series of `name` with `labels`, 0 when there is no such series yet (a counter not yet counted). */
export function valueOf(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const family = scraped.get(name);
  const series = family?.series.find((candidate) => Object.entries(labels).every(([key, value]) => candidate.labels[key] === value));
  return series?.value ?? 0;
}
