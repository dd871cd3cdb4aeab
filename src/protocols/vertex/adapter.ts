import { BadRequestError } from "../../errors.js";
import type { ProtocolFront } from "../../dispatch/protocol-fronts.js";
import type { InvocationResult } from "../../pipeline/inference-pipeline.js";

const UTF8_BOM = "\uFEFF";
const requestShape = 'a Vertex AI prediction request is {"instances": [...], "parameters": {...}}';

/**
 * Runs a Vertex AI prediction request on a hosted model, in the worker thread (docs/vertex.md).
 * The body is parsed once here; the handlers then run as for a SageMaker JSON request, with
 * Content-Type and Accept `application/json` whatever the HTTP headers say:
 *
 * - without `inputFn`, the model gets the `instances` array, as the JSON codec would give it;
 *   with `inputFn` (or `transformFn`), the handler gets the whole body;
 * - `parameters` reaches every handler as `ctx.parameters`;
 * - without `outputFn`, the JSON codec answers `{"predictions": ...}`, the form Vertex AI expects;
 *   an `outputFn` answers as it likes.
 *
 * A body that is not a JSON object with an `instances` array, or whose `parameters` is not an
 * object, is a 400.
 *
 * @example
 * ```ts
 * const result = await predictVertex(hosted, request, { log, signal }); // body: {"predictions":[[0.97,0.03,0]]}
 * ```
 */
export const predictVertex: ProtocolFront = async (hosted, request, scope) => {
  const started = performance.now();
  const { instances, parameters } = parsePredictRequest(request.body);
  const parseMs = performance.now() - started;
  const result = await hosted.pipeline.invoke({ ...request, contentType: "application/json", accept: "application/json" }, scope, {
    decoded: { value: instances },
    ...(parameters === undefined ? {} : { parameters }),
  });
  return withParseTime(result, parseMs);
};

function parsePredictRequest(body: Buffer): { instances: unknown[]; parameters: Readonly<Record<string, unknown>> | undefined } {
  let text = body.toString("utf8");
  if (text.startsWith(UTF8_BOM)) text = text.slice(1);
  if (text.trim() === "") throw new BadRequestError(`Empty request body: ${requestShape}`, { code: "EMPTY_BODY" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`Invalid JSON body: ${(error as Error).message}`, { code: "INVALID_JSON", cause: error });
  }
  if (!isObject(parsed) || !Array.isArray(parsed["instances"])) throw new BadRequestError(`The body has no "instances" array: ${requestShape}`);
  const parameters = parsed["parameters"];
  if (parameters !== undefined && !isObject(parameters)) throw new BadRequestError(`"parameters" must be an object: ${requestShape}`);
  return { instances: parsed["instances"], parameters };
}

/** Parsing here replaces the codec's decoding: it counts as the decode stage. */
function withParseTime(result: InvocationResult, parseMs: number): InvocationResult {
  if (result.timings === undefined) return result;
  return { ...result, timings: { ...result.timings, decodeMs: result.timings.decodeMs + parseMs } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
