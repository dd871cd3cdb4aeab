/**
 * The detection step: where text lines are in an image. Pre-processing (resize and normalise),
 * the detector, post-processing (DB boxes on the original image), as one function that both
 * forms of the OCR pipeline call: the detection container and the one-container reader.
 */
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { toDetectorInput, type RgbImage } from "./decode-image.js";
import { detectBoxes, toImageBox, type TextBox } from "./detect-boxes.js";

/**
 * Finds the text boxes of `image` with a PaddleOCR DB detector: one axis-aligned box per line
 * (or word group), top to bottom, in pixels of `image`, with the region's mean text probability.
 * Skips the detector when `signal` has fired.
 *
 * @example
 * ```ts
 * const boxes = await detectTextBoxes(detector, await decodeUprightImage(png), ctx.signal);
 * // [{ x: 64, y: 78, width: 530, height: 46, score: 0.994 }, ...]
 * ```
 */
export async function detectTextBoxes(detector: InferenceSession, image: RgbImage, signal: AbortSignal): Promise<TextBox[]> {
  const input = await toDetectorInput(image);
  signal.throwIfAborted();
  const { tensor, scaleX, scaleY } = input;
  const outputs = await detector.run({ x: new Tensor("float32", tensor.data, tensor.shape) });
  // loadDetector checked that the detector's only output is a float32 probability map [1, 1, H, W].
  const map = outputs[detector.outputNames[0] as string] as Tensor;
  const [, , height = 0, width = 0] = map.dims;
  const onImage = { scaleX, scaleY, width: image.width, height: image.height };
  return detectBoxes({ data: map.data as Float32Array, width, height })
    .map((box) => toImageBox(box, onImage))
    .filter((box) => box.width > 0 && box.height > 0);
}
