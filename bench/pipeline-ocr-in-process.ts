/**
 * The floor for the one-container OCR reader: its handlers (examples/ocr/read-text.ts: decode,
 * detector, crop, recogniser, JSON) called in this process, with the ONNX session settings
 * `serve` uses by default, and no HTTP, no worker thread. Prints one JSON line: the time of each
 * call and the body of the last.
 * Usage: `node --import tsx bench/pipeline-ocr-in-process.ts <calls> <warm-up calls>`.
 */
import { pino } from "pino";
import * as reader from "../examples/ocr/read-text.js";
import type { ModelContext, RequestContext } from "../src/handlers/types.js";
import { loadConfig } from "../src/config/server-config.js";
import { loadOnnxModel } from "../src/models/onnx/load-models.js";
import { renderBenchPage } from "./pipeline-ocr-page.js";

const calls = Number(process.argv[2] ?? 30);
const warmUp = Number(process.argv[3] ?? 5);
const log = pino({ level: "silent" });
const { onnx } = loadConfig({});
const ctx: ModelContext = {
  log,
  modelName: "model",
  workerId: 0,
  loadOnnxModels: () => Promise.reject(new Error("the reader loads its models one by one")),
  loadOnnxModel: (file) => loadOnnxModel(file, onnx, log),
};
const request: RequestContext = {
  contentType: "image/png",
  accept: "application/json",
  customAttributes: undefined,
  responseCustomAttributes: undefined,
  inferenceId: "bench",
  targetModel: undefined,
  targetVariant: undefined,
  sessionId: undefined,
  log,
  signal: new AbortController().signal,
};

const model = await reader.modelFn("examples/ocr/model", ctx);
const png = await renderBenchPage();
const samples: number[] = [];
let body = "";
for (let call = 0; call < warmUp + calls; call++) {
  const started = performance.now();
  const image = await reader.inputFn(png, "image/png");
  const reading = await reader.predictFn(image, model, request);
  const output = reader.outputFn(reading, "application/json");
  if (call >= warmUp) samples.push(performance.now() - started);
  body = typeof output === "object" && "body" in output ? String(output.body as string) : String(output as string);
}
console.log(JSON.stringify({ samples, body }));
