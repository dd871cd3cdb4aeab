import sharp from "sharp";
import { BadRequestError, PayloadTooLargeError } from "sagemaker-byoc-node";
import type { NDArray } from "sagemaker-byoc-node";

/**
 * Largest image accepted, in pixels (width × height). Decoding costs about 3 bytes per pixel,
 * so this bounds a request at roughly 150 MB of transient memory while still admitting a
 * 48-megapixel phone photo. A tiny file can declare a huge image (a "decompression bomb"): the
 * size is read from the header and checked before any pixel is decoded.
 */
export const MAX_INPUT_PIXELS = 50_000_000;

/** PaddleOCR's `det_limit_side_len`: the detector sees images whose long side is at most this. */
export const DETECTOR_MAX_SIDE = 960;

/** The detector downsamples by 32, so both sides of its input must be multiples of 32. */
const DETECTOR_STRIDE = 32;

/**
 * What the detector needs from a request: its input tensor, and how to map its output back
 * onto the original image.
 *
 * @example
 * ```ts
 * const input: DetectorInput = await toDetectorInput(await decodeUprightImage(png));
 * input.tensor.shape; // [1, 3, 448, 960]
 * const xInOriginal = xInTensor * input.scaleX;
 * ```
 */
export interface DetectorInput {
  /** float32 `[1, 3, H, W]`, BGR planes normalised as PaddleOCR does (see {@link toDetectorTensor}). */
  readonly tensor: NDArray<"float32">;
  /** Width of the image as displayed (after EXIF orientation), in pixels. */
  readonly originalWidth: number;
  /** Height of the image as displayed (after EXIF orientation), in pixels. */
  readonly originalHeight: number;
  /** `originalWidth / W`: multiply a tensor x coordinate by it to get an image x coordinate. */
  readonly scaleX: number;
  /** `originalHeight / H`: multiply a tensor y coordinate by it to get an image y coordinate. */
  readonly scaleY: number;
}

/**
 * Image formats this example decodes.
 *
 * @example
 * ```ts
 * const format: ImageFormat | undefined = sniffImageFormat(body);
 * ```
 */
export type ImageFormat = "png" | "jpeg";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/**
 * Recognises PNG and JPEG by their first bytes, whatever the request claimed. Anything else is
 * refused before it reaches libvips, which would otherwise also parse SVG, TIFF, GIF and more.
 *
 * @example
 * ```ts
 * sniffImageFormat(await readFile("receipt.png")); // "png"
 * sniffImageFormat(Buffer.from("hello")); // undefined
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const startsWith = (signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (startsWith(PNG_SIGNATURE)) return "png";
  if (startsWith(JPEG_SIGNATURE)) return "jpeg";
  return undefined;
}

/**
 * The size PaddleOCR's `DetResizeForTest` (limit type `max`) resizes an image to: scaled down
 * so the long side is at most `maxSide`, then each side rounded to the nearest multiple of 32
 * (at least 32). The aspect ratio may shift slightly; `scaleX` and `scaleY` undo it.
 *
 * @example
 * ```ts
 * detectorInputSize(1100, 520); // { width: 960, height: 448 }
 * detectorInputSize(20, 70); // { width: 32, height: 64 }
 * ```
 */
export function detectorInputSize(
  width: number,
  height: number,
  maxSide = DETECTOR_MAX_SIDE,
): { width: number; height: number } {
  const ratio = Math.max(width, height) > maxSide ? maxSide / Math.max(width, height) : 1;
  const toStride = (side: number) => Math.max(Math.round((side * ratio) / DETECTOR_STRIDE) * DETECTOR_STRIDE, DETECTOR_STRIDE);
  return { width: toStride(width), height: toStride(height) };
}

// PaddleOCR trains and runs the detector on images read by cv2, which are BGR, and normalises
// them with NormalizeImage(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], scale=1/255)
// applied in the image's own channel order. So plane 0 holds blue normalised with 0.485/0.229,
// even though those are ImageNet's red statistics: that is what the weights expect.
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

/** `NORMALISED[plane * 256 + byte]`: each plane's normalised value for every 8-bit sample. */
const NORMALISED = Float32Array.from({ length: 3 * 256 }, (_, index) => {
  const plane = Math.floor(index / 256);
  return ((index % 256) / 255 - MEAN[plane as 0 | 1 | 2]) / STD[plane as 0 | 1 | 2];
});

/**
 * Turns interleaved 8-bit RGB pixels into the detector's float32 `[1, 3, height, width]`
 * tensor: planes in B, G, R order, each normalised with PaddleOCR's mean and std.
 *
 * @example
 * ```ts
 * const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
 * const tensor = toDetectorTensor(data, info.width, info.height);
 * ```
 */
export function toDetectorTensor(rgb: Uint8Array, width: number, height: number): NDArray<"float32"> {
  const planeSize = width * height;
  const data = new Float32Array(3 * planeSize);
  for (let pixel = 0, offset = 0; pixel < planeSize; pixel++, offset += 3) {
    data[pixel] = NORMALISED[rgb[offset + 2]!]!;
    data[planeSize + pixel] = NORMALISED[256 + rgb[offset + 1]!]!;
    data[2 * planeSize + pixel] = NORMALISED[512 + rgb[offset]!]!;
  }
  return { dtype: "float32", shape: [1, 3, height, width], data };
}

/**
 * An image as decoded pixels: 8-bit RGB, interleaved, row by row, upright.
 *
 * @example
 * ```ts
 * const image: RgbImage = { data: new Uint8Array(2 * 1 * 3), width: 2, height: 1 };
 * ```
 */
export interface RgbImage {
  /** `width × height × 3` bytes: R, G, B of each pixel, row-major. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Options of {@link decodeUprightImage}.
 *
 * @example
 * ```ts
 * await decodeUprightImage(body, { maxPixels: 20_000_000 });
 * ```
 */
export interface DecodeImageOptions {
  /** Largest accepted width × height. Default {@link MAX_INPUT_PIXELS}. */
  readonly maxPixels?: number;
}

/**
 * Decodes a PNG or JPEG into upright RGB pixels at full size: EXIF orientation applied,
 * transparency flattened onto white (dropping the alpha channel instead would turn the usual
 * transparent black background into a black page), converted to sRGB.
 *
 * Throws {@link BadRequestError} (400) when the body is not a decodable PNG or JPEG and
 * {@link PayloadTooLargeError} (413) when the image has more than `maxPixels` pixels, before any
 * pixel is decoded.
 *
 * @example
 * ```ts
 * const image = await decodeUprightImage(await readFile("receipt.jpg"));
 * image.width; // as displayed, after the EXIF orientation
 * ```
 */
export async function decodeUprightImage(body: Uint8Array, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? MAX_INPUT_PIXELS;
  if (sniffImageFormat(body) === undefined) {
    throw new BadRequestError("Could not decode image: the body is neither a PNG nor a JPEG", { code: "INVALID_IMAGE" });
  }
  const { width, height } = await readDisplaySize(body);
  if (width * height > maxPixels) {
    throw new PayloadTooLargeError(
      `Image is ${width}x${height} pixels (${width * height}); the limit is ${maxPixels} pixels`,
    );
  }
  try {
    const { data, info } = await sharp(body, { limitInputPixels: maxPixels })
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (error) {
    throw invalidImage(error);
  }
}

/**
 * The PaddleOCR detector's input for `image`: resized to {@link detectorInputSize} and
 * normalised by {@link toDetectorTensor}, with the scales that map detector coordinates back.
 *
 * @example
 * ```ts
 * const input = await toDetectorInput(await decodeUprightImage(png));
 * input.tensor.shape; // [1, 3, 448, 960] for a 1100x520 image
 * ```
 */
export async function toDetectorInput(image: RgbImage, maxSide = DETECTOR_MAX_SIDE): Promise<DetectorInput> {
  const target = detectorInputSize(image.width, image.height, maxSide);
  const pixels = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(target.width, target.height, { fit: "fill" })
    .raw()
    .toBuffer();
  return {
    tensor: toDetectorTensor(pixels, target.width, target.height),
    originalWidth: image.width,
    originalHeight: image.height,
    scaleX: image.width / target.width,
    scaleY: image.height / target.height,
  };
}

/** Width and height after EXIF orientation, read from the header alone. */
async function readDisplaySize(body: Uint8Array): Promise<{ width: number; height: number }> {
  try {
    // No pixel limit here: metadata() decodes no pixels, and reading the declared size lets the
    // caller refuse an oversized image with a message that says how large it is.
    const metadata = await sharp(body, { limitInputPixels: false }).metadata();
    return metadata.autoOrient;
  } catch (error) {
    throw invalidImage(error);
  }
}

function invalidImage(error: unknown): BadRequestError {
  // libvips messages often end in ": " with nothing after it.
  const reason = error instanceof Error ? error.message.replace(/[:\s]+$/, "") : String(error);
  return new BadRequestError(`Could not decode image: ${reason}`, { code: "INVALID_IMAGE", cause: error });
}
