/**
 * Text recognition with PaddleOCR v4's recogniser: the second container of the OCR pipeline. It
 * reads the cropped lines the detection container (inference.ts) hands on and answers each
 * line's box, text and confidence.
 *
 *   npx sagemaker-byoc pipeline \
 *     --container detection=examples/ocr/model --container recognition=examples/ocr/model \
 *     --container-env detection:BYOC_HANDLERS=examples/ocr/inference.ts \
 *     --container-env detection:SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=application/x-ocr-lines+json \
 *     --container-env recognition:BYOC_HANDLERS=examples/ocr/recognition.ts
 */
import { UnsupportedMediaTypeError, parseMediaType } from "sagemaker-byoc-node";
import type { HandlerOutput, ModelContext, RequestContext } from "sagemaker-byoc-node";
import { decodeLineImages, LINE_IMAGES_TYPE, type LineImages } from "./line-images.js";
import { loadRecognizer, type Recognizer } from "./ocr-models.js";
import { encodeReading, toReading, type Reading } from "./reading.js";
import { recognizeText } from "./recognize-text.js";

/**
 * Loads the recogniser and its dictionary (see {@link loadRecognizer}).
 *
 * @example
 * ```ts
 * const recognizer = await modelFn("/opt/ml/model", ctx);
 * ```
 */
export function modelFn(modelDir: string, ctx: ModelContext): Promise<Recognizer> {
  return loadRecognizer(modelDir, ctx);
}

/**
 * Accepts the detection container's `application/x-ocr-lines+json` only; anything else is a 415
 * that says how the pipeline is meant to be set up.
 *
 * @example
 * ```ts
 * const lines = await inputFn(body, "application/x-ocr-lines+json");
 * ```
 */
export async function inputFn(body: Buffer, contentType: string): Promise<LineImages> {
  const { essence } = parseMediaType(contentType);
  if (essence !== LINE_IMAGES_TYPE) {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${essence} is not supported; send ${LINE_IMAGES_TYPE}, as the detection container answers ` +
        `when its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is ${LINE_IMAGES_TYPE}`,
    );
  }
  return decodeLineImages(body);
}

/**
 * Reads every line (see {@link recognizeText}) and keeps those read with enough confidence.
 *
 * @example
 * ```ts
 * const reading = await predictFn(lines, recognizer, ctx);
 * ```
 */
export async function predictFn(input: LineImages, recognizer: Recognizer, ctx: RequestContext): Promise<Reading> {
  const texts = await recognizeText(recognizer, input.lines.map((line) => line.image), ctx.signal);
  return toReading(input.lines.map((line) => line.box), texts, input);
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
