/**
 * The floor: one model's request handled in this process, no HTTP, one call after another.
 * Times each stage (decode the body, run the model, encode the answer; see bench/baseline.ts)
 * and the three together. For a tensor request the `run` stage is `session.run` alone, the
 * floor of the issue; the total is what any server must at least spend per request at
 * concurrency 1.
 *
 * Usage: `node --import tsx bench/floor.ts <model> <request kind> <seconds> <warm-up seconds>`:
 * calls for that long (at least 5 measured calls); prints one JSON {@link FloorResult} line.
 */
import { readFileSync } from "node:fs";
import { createBaseline } from "./baseline.js";
import { summarize, type LatencySummary } from "./stats.js";
import { benchModel, benchRequest, requestBodyPath, type ModelId, type RequestKind } from "./workloads.js";

/**
 * What this script prints.
 *
 * @example
 * ```ts
 * const floor: FloorResult = { calls: 2000, runs: "session.run", decode, run, encode, total, answer };
 * ```
 */
export interface FloorResult {
  readonly calls: number;
  /** What the `run` stage is: `session.run`, or the example's `predictFn` around it. */
  readonly runs: string;
  readonly decode: LatencySummary;
  readonly run: LatencySummary;
  readonly encode: LatencySummary;
  /** Decode, run and encode, back to back. */
  readonly total: LatencySummary;
  /** The answer, base64, with its content type: the reference the servers are checked against. */
  readonly answer: { readonly body: string; readonly contentType: string };
}

const minimumCalls = 5;
const [modelId = "iris", kind = "json-1", seconds = "2", warmUpSeconds = "0.5"] = process.argv.slice(2);
const request = benchRequest(benchModel(modelId as ModelId), kind as RequestKind);
const body = readFileSync(requestBodyPath(modelId as ModelId, kind as RequestKind));
const pipeline = await createBaseline(modelId as ModelId, kind as RequestKind);
const stages = { decode: [] as number[], run: [] as number[], encode: [] as number[], total: [] as number[] };
let answer = { body: "", contentType: "" };
const warmUpUntil = performance.now() + Number(warmUpSeconds) * 1000;
let measureUntil = Number.POSITIVE_INFINITY;
for (let call = 0; ; call++) {
  const started = performance.now();
  if (started >= measureUntil && stages.total.length >= minimumCalls) break;
  const input = await pipeline.decode(body, request.contentType);
  const decoded = performance.now();
  const output = await pipeline.run(input);
  const ran = performance.now();
  const encoded = await pipeline.encode(output, request.accept);
  const finished = performance.now();
  if (call === 0) answer = { body: Buffer.from(encoded.body).toString("base64"), contentType: encoded.contentType };
  if (measureUntil === Number.POSITIVE_INFINITY) {
    if (finished >= warmUpUntil && call >= 1) measureUntil = finished + Number(seconds) * 1000;
    continue;
  }
  stages.decode.push(decoded - started);
  stages.run.push(ran - decoded);
  stages.encode.push(finished - ran);
  stages.total.push(finished - started);
}
await pipeline.release();

const result: FloorResult = {
  calls: stages.total.length,
  runs: pipeline.runs,
  decode: summarize(stages.decode),
  run: summarize(stages.run),
  encode: summarize(stages.encode),
  total: summarize(stages.total),
  answer,
};
console.log(JSON.stringify(result));
