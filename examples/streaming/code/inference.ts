// Streams a large prediction back as JSON Lines: one line per input row, written as it is
// encoded, so the client reads the first rows while the rest are still being produced and the
// server never holds the whole answer as one string. Serve it with the iris model:
//   npx sagemaker-byoc serve --model-dir examples/iris/model --handlers examples/streaming/code/inference.ts
import { NotAcceptableError, type NDArray, type RequestContext, type ResponseStream } from "sagemaker-byoc-node";

/** Rows per chunk: large enough that a chunk's overhead does not matter, small enough to start early. */
const rowsPerChunk = 2_000;

export function outputFn(prediction: NDArray<"float32">, accept: string, ctx: RequestContext) {
  if (!accept.includes("jsonlines") && !accept.includes("*/*")) throw new NotAcceptableError(`Send Accept: application/jsonlines, not ${accept}`);
  return { body: jsonLines(prediction, ctx.signal), contentType: "application/jsonlines" };
}

async function* jsonLines(prediction: NDArray<"float32">, signal: AbortSignal): ResponseStream {
  const [rows = 0, classes = 0] = prediction.shape;
  for (let first = 0; first < rows; first += rowsPerChunk) {
    // The client left or the time limit passed: stop producing.
    if (signal.aborted) return;
    let chunk = "";
    for (let row = first; row < Math.min(rows, first + rowsPerChunk); row++) {
      const probabilities = Array.from(prediction.data.subarray(row * classes, (row + 1) * classes));
      chunk += `${JSON.stringify({ row, class: probabilities.indexOf(Math.max(...probabilities)), probabilities })}\n`;
    }
    yield chunk;
  }
}
