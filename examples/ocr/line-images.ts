/**
 * The text lines one container hands to the next in the two-container OCR pipeline: each line's
 * box and its pixels, cropped from the image. PNG keeps the pixels exact, so the recogniser sees
 * what it would see in one container, and both forms of the pipeline read the same text.
 */
import sharp from "sharp";
import { BadRequestError } from "sagemaker-byoc-node";
import type { RgbImage } from "./decode-image.js";
import type { TextBox } from "./detect-boxes.js";

/**
 * The media type of the hand-over. The detection container answers it when asked (its
 * `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT` in the pipeline); the recognition container reads it.
 */
export const LINE_IMAGES_TYPE = "application/x-ocr-lines+json";

/** More lines than the detector ever returns (its `maxBoxes`) is not a hand-over from it. */
const MAX_LINES = 1000;

/**
 * One text line: where it is in the image and its pixels.
 *
 * @example
 * ```ts
 * const line: LineImage = { box: { x: 64, y: 78, width: 530, height: 46, score: 0.994 }, image: crop };
 * ```
 */
export interface LineImage {
  readonly box: TextBox;
  /** The box's pixels, `box.width × box.height`. */
  readonly image: RgbImage;
}

/**
 * The lines of one image, and the image's size.
 *
 * @example
 * ```ts
 * const lines: LineImages = { width: 1100, height: 520, lines: await cropLines(image, boxes) };
 * ```
 */
export interface LineImages {
  readonly width: number;
  readonly height: number;
  readonly lines: readonly LineImage[];
}

/**
 * Cuts each box out of `image` (boxes are in its pixels, within its bounds).
 *
 * @example
 * ```ts
 * const lines = cropLines(image, await detectTextBoxes(detector, image, signal));
 * ```
 */
export function cropLines(image: RgbImage, boxes: readonly TextBox[]): LineImage[] {
  return boxes.map((box) => {
    const rowBytes = box.width * 3;
    const data = new Uint8Array(rowBytes * box.height);
    for (let row = 0; row < box.height; row++) {
      const start = ((box.y + row) * image.width + box.x) * 3;
      data.set(image.data.subarray(start, start + rowBytes), row * rowBytes);
    }
    return { box, image: { data, width: box.width, height: box.height } };
  });
}

/**
 * The hand-over's body: JSON with the image size and, per line, its box and its pixels as a
 * base64 PNG.
 *
 * @example
 * ```ts
 * const body = await encodeLineImages({ width: 1100, height: 520, lines });
 * // {"width":1100,"height":520,"lines":[{"box":{"x":64,...},"png":"iVBORw0KGgo..."}]}
 * ```
 */
export async function encodeLineImages(lineImages: LineImages): Promise<string> {
  const lines = await Promise.all(
    lineImages.lines.map(async ({ box, image }) => {
      const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
      return { box, png: png.toString("base64") };
    }),
  );
  return JSON.stringify({ width: lineImages.width, height: lineImages.height, lines });
}

/**
 * Reads a hand-over body back into lines. Throws {@link BadRequestError} (400, code
 * `INVALID_LINES`) when the body is not one: not JSON, a field missing or of the wrong kind, a
 * line image that is not a PNG of its box's size, more than 1000 lines.
 *
 * @example
 * ```ts
 * const { width, height, lines } = await decodeLineImages(body);
 * ```
 */
export async function decodeLineImages(body: Buffer): Promise<LineImages> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw invalid(`the body is not JSON (${(error as Error).message})`);
  }
  const { width, height, lines } = (parsed ?? {}) as { width?: unknown; height?: unknown; lines?: unknown };
  if (!isSize(width) || !isSize(height)) throw invalid("width and height must be positive whole numbers");
  if (!Array.isArray(lines)) throw invalid("lines must be an array");
  if (lines.length > MAX_LINES) throw invalid(`${lines.length} lines; at most ${MAX_LINES}`);
  const decoded = await Promise.all(lines.map((line: unknown, index) => decodeLine(line, index)));
  return { width, height, lines: decoded };
}

async function decodeLine(line: unknown, index: number): Promise<LineImage> {
  const { box, png } = (line ?? {}) as { box?: Partial<Record<keyof TextBox, unknown>>; png?: unknown };
  const fields = [box?.x, box?.y, box?.width, box?.height];
  if (box === undefined || !fields.every((value) => Number.isInteger(value) && (value as number) >= 0) || typeof box.score !== "number") {
    throw invalid(`lines[${index}].box must have whole-number x, y, width, height and a numeric score`);
  }
  if (typeof png !== "string") throw invalid(`lines[${index}].png must be a base64 PNG`);
  const bytes = Buffer.from(png, "base64");
  const { x, y, width, height, score } = box as TextBox;
  try {
    if (bytes.subarray(0, 8).toString("latin1") !== "\x89PNG\r\n\x1a\n") throw new Error("not a PNG");
    const { data, info } = await sharp(bytes, { limitInputPixels: width * height }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height) throw new Error(`${info.width}x${info.height} pixels, not the box's ${width}x${height}`);
    return { box: { x, y, width, height, score }, image: { data, width, height } };
  } catch (error) {
    throw invalid(`lines[${index}].png: ${(error as Error).message.replace(/[:\s]+$/, "")}`);
  }
}

function isSize(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function invalid(reason: string): BadRequestError {
  return new BadRequestError(`Not a ${LINE_IMAGES_TYPE} body: ${reason}`, { code: "INVALID_LINES" });
}
