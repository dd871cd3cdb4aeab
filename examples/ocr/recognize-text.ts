/**
 * The recognition step: what a cropped text line says. Pre-processing (PaddleOCR's
 * `resize_norm_img`), the recogniser, post-processing (CTC greedy decoding), as functions both
 * forms of the OCR pipeline call: the recognition container and the one-container reader.
 */
import { Tensor } from "onnxruntime-node";
import sharp from "sharp";
import type { NDArray } from "sagemaker-byoc-node";
import type { RgbImage } from "./decode-image.js";
import type { Recognizer } from "./ocr-models.js";

/** The recogniser reads lines scaled to this height (PaddleOCR v4's `rec_image_shape` 3,48,320). */
export const RECOGNIZER_HEIGHT = 48;

/** Lines narrower than this (at 48 pixels high) are padded to it, as PaddleOCR pads them. */
const RECOGNIZER_MIN_WIDTH = 320;

/** A crop at least this much taller than wide is a vertical line: turned 90° first, as PaddleOCR does. */
const VERTICAL_RATIO = 1.5;

/**
 * What one line says, and how sure the recogniser is: the mean probability of the characters it
 * read (0 for a line it read as empty).
 *
 * @example
 * ```ts
 * const read: RecognizedText = { text: "HELLO WORLD 123", confidence: 0.988 };
 * ```
 */
export interface RecognizedText {
  readonly text: string;
  readonly confidence: number;
}

/**
 * Turns a cropped line into the recogniser's float32 `[1, 3, 48, W]` input as PaddleOCR's
 * `resize_norm_img` does: turned 90° counter-clockwise when at least 1.5 times taller than wide,
 * scaled to 48 pixels high keeping its aspect ratio, planes in B, G, R order (PaddleOCR reads
 * images with OpenCV) normalised to `value / 127.5 - 1`, and padded on the right with zeros to
 * at least 320 wide.
 *
 * @example
 * ```ts
 * const tensor = await toRecognizerTensor({ data, width: 530, height: 46 });
 * tensor.shape; // [1, 3, 48, 553]
 * ```
 */
export async function toRecognizerTensor(line: RgbImage): Promise<NDArray<"float32">> {
  const vertical = line.height >= VERTICAL_RATIO * line.width;
  const [width, height] = vertical ? [line.height, line.width] : [line.width, line.height];
  const ratio = width / height;
  const tensorWidth = Math.max(RECOGNIZER_MIN_WIDTH, Math.floor(RECOGNIZER_HEIGHT * ratio));
  const resizedWidth = Math.max(1, Math.min(tensorWidth, Math.ceil(RECOGNIZER_HEIGHT * ratio)));
  const raw = sharp(line.data, { raw: { width: line.width, height: line.height, channels: 3 } });
  const pixels = await (vertical ? raw.rotate(270) : raw).resize(resizedWidth, RECOGNIZER_HEIGHT, { fit: "fill" }).raw().toBuffer();
  const plane = RECOGNIZER_HEIGHT * tensorWidth;
  const data = new Float32Array(3 * plane);
  for (let y = 0; y < RECOGNIZER_HEIGHT; y++) {
    for (let x = 0; x < resizedWidth; x++) {
      const source = (y * resizedWidth + x) * 3;
      const target = y * tensorWidth + x;
      data[target] = pixels[source + 2]! / 127.5 - 1;
      data[plane + target] = pixels[source + 1]! / 127.5 - 1;
      data[2 * plane + target] = pixels[source]! / 127.5 - 1;
    }
  }
  return { dtype: "float32", shape: [1, 3, RECOGNIZER_HEIGHT, tensorWidth], data };
}

/**
 * CTC greedy decoding, as PaddleOCR's `CTCLabelDecode`: the most probable class at each time
 * step; repeats merged, blanks (class 0) dropped; the confidence is the mean probability of the
 * characters kept.
 *
 * @example
 * ```ts
 * // Steps reading blank, "H", "H", blank, "I" (characters ["", "H", "I"]):
 * decodeCtc(probabilities, 5, 3, ["", "H", "I"]); // { text: "HI", confidence: 0.9 }
 * ```
 */
export function decodeCtc(probabilities: Float32Array, steps: number, classes: number, characters: readonly string[]): RecognizedText {
  let text = "";
  let probabilitySum = 0;
  let kept = 0;
  let previous = -1;
  for (let step = 0; step < steps; step++) {
    let best = 0;
    let bestProbability = -Infinity;
    for (let index = step * classes, end = index + classes, candidate = 0; index < end; index++, candidate++) {
      const probability = probabilities[index]!;
      if (probability > bestProbability) {
        bestProbability = probability;
        best = candidate;
      }
    }
    if (best !== 0 && best !== previous) {
      text += characters[best] ?? "";
      probabilitySum += bestProbability;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : probabilitySum / kept };
}

/**
 * Reads each cropped line with the recogniser, one line per run (so a line's reading never
 * depends on the others it came with). Checks `signal` before each run.
 *
 * @example
 * ```ts
 * const readings = await recognizeText(recognizer, lines.map((line) => line.image), ctx.signal);
 * ```
 */
export async function recognizeText(recognizer: Recognizer, lines: readonly RgbImage[], signal: AbortSignal): Promise<RecognizedText[]> {
  const { session, characters } = recognizer;
  const readings: RecognizedText[] = [];
  for (const line of lines) {
    const tensor = await toRecognizerTensor(line);
    signal.throwIfAborted();
    const outputs = await session.run({ x: new Tensor("float32", tensor.data, tensor.shape) });
    // loadRecognizer checked the one output: float32 [1, steps, classes].
    const probabilities = outputs[session.outputNames[0] as string] as Tensor;
    const [, steps = 0, classes = 0] = probabilities.dims;
    readings.push(decodeCtc(probabilities.data as Float32Array, steps, classes, characters));
  }
  return readings;
}
