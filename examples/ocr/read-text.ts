/**
 * OCR in one container: the detector, then the recogniser, in one `predictFn`, with the same
 * steps (detect-text.ts, line-images.ts, recognize-text.ts) as the two-container pipeline
 * (inference.ts, then recognition.ts), so both read the same text.
 *
 *   npx sagemaker-byoc serve --handlers examples/ocr/read-text.ts --model-dir examples/ocr/model
 */
import type { InferenceSession } from "onnxruntime-node";
import type { HandlerOutput, ModelContext, RequestContext } from "sagemaker-byoc-node";
import type { RgbImage } from "./decode-image.js";
import { detectTextBoxes } from "./detect-text.js";
import { inputFn as decodeRequestImage } from "./inference.js";
import { cropLines } from "./line-images.js";
import { loadDetector, loadRecognizer, type Recognizer } from "./ocr-models.js";
import { encodeReading, toReading, type Reading } from "./reading.js";
import { recognizeText } from "./recognize-text.js";

/**
 * Both models of the reader.
 *
 * @example
 * ```ts
 * const { detector, recognizer }: TextReader = await modelFn("/opt/ml/model", ctx);
 * ```
 */
export interface TextReader {
  readonly detector: InferenceSession;
  readonly recognizer: Recognizer;
}

/**
 * Loads the detector and the recogniser with its dictionary (see ocr-models.ts).
 *
 * @example
 * ```ts
 * const reader = await modelFn("/opt/ml/model", ctx);
 * ```
 */
export async function modelFn(modelDir: string, ctx: ModelContext): Promise<TextReader> {
  return { detector: await loadDetector(modelDir, ctx), recognizer: await loadRecognizer(modelDir, ctx) };
}

/**
 * Accepts PNG and JPEG bodies, as the detection container does (`image/png`, `image/jpeg`,
 * `application/octet-stream`).
 *
 * @example
 * ```ts
 * const image = await inputFn(png, "image/png");
 * ```
 */
export function inputFn(body: Buffer, contentType: string): Promise<RgbImage> {
  return decodeRequestImage(body, contentType);
}

/**
 * Finds the lines, crops them and reads each.
 *
 * @example
 * ```ts
 * const reading = await predictFn(image, reader, ctx);
 * reading.lines[0]?.text; // "HELLO WORLD 123"
 * ```
 */
export async function predictFn(image: RgbImage, reader: TextReader, ctx: RequestContext): Promise<Reading> {
  const boxes = await detectTextBoxes(reader.detector, image, ctx.signal);
  const lines = cropLines(image, boxes);
  const texts = await recognizeText(reader.recognizer, lines.map((line) => line.image), ctx.signal);
  return toReading(boxes, texts, image);
}

/**
 * The reading as JSON (see {@link encodeReading}).
 *
 * @example
 * ```ts
 * const { body } = outputFn(reading, "application/json") as { body: string };
 * ```
 */
export function outputFn(reading: Reading, accept: string): HandlerOutput {
  return encodeReading(reading, accept);
}
