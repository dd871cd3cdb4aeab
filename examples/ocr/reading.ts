/**
 * What the OCR pipeline answers, in either form: each text line's box, text and confidence.
 */
import { NotAcceptableError, negotiateAccept } from "sagemaker-byoc-node";
import type { HandlerOutput } from "sagemaker-byoc-node";
import type { TextBox } from "./detect-boxes.js";
import type { RecognizedText } from "./recognize-text.js";

/** Lines read with a lower confidence are dropped, as PaddleOCR drops them (`drop_score`). */
export const MIN_CONFIDENCE = 0.5;

const JSON_TYPE = "application/json";

/**
 * One line of text: what it says, how sure the recogniser is (0 to 1) and where it is, in pixels
 * of the image as sent (after its EXIF orientation).
 *
 * @example
 * ```ts
 * const line: TextLine = { text: "HELLO WORLD 123", confidence: 0.988, box: { x: 64, y: 78, width: 530, height: 46 } };
 * ```
 */
export interface TextLine {
  readonly text: string;
  readonly confidence: number;
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
}

/**
 * The response body: the lines, top to bottom, and the size of the image their boxes refer to.
 *
 * @example
 * ```json
 * { "lines": [{ "text": "HELLO WORLD 123", "confidence": 0.988, "box": { "x": 64, "y": 78, "width": 530, "height": 46 } }], "width": 1100, "height": 520 }
 * ```
 */
export interface Reading {
  readonly lines: readonly TextLine[];
  readonly width: number;
  readonly height: number;
}

/**
 * Pairs each box with what was read in it, keeping lines read with at least
 * {@link MIN_CONFIDENCE}; confidences are rounded to 3 decimals.
 *
 * @example
 * ```ts
 * const reading = toReading(boxes, await recognizeText(recognizer, crops, signal), { width: 1100, height: 520 });
 * ```
 */
export function toReading(boxes: readonly TextBox[], texts: readonly RecognizedText[], size: { readonly width: number; readonly height: number }): Reading {
  const lines = boxes.flatMap(({ x, y, width, height }, index): TextLine[] => {
    const read = texts[index];
    if (read === undefined || read.text === "" || read.confidence < MIN_CONFIDENCE) return [];
    return [{ text: read.text, confidence: Math.round(read.confidence * 1000) / 1000, box: { x, y, width, height } }];
  });
  return { lines, width: size.width, height: size.height };
}

/**
 * The reading as JSON; an Accept that does not allow `application/json` gets a 406.
 *
 * @example
 * ```ts
 * export const outputFn = (reading: Reading, accept: string) => encodeReading(reading, accept);
 * ```
 */
export function encodeReading(reading: Reading, accept: string): HandlerOutput {
  if (negotiateAccept(accept, [JSON_TYPE], JSON_TYPE) === undefined) {
    throw new NotAcceptableError(`Accept ${JSON.stringify(accept)} does not allow ${JSON_TYPE}, the only response type`);
  }
  return { body: JSON.stringify(reading), contentType: JSON_TYPE };
}
