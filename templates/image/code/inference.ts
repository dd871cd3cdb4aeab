// The handlers SageMaker's requests go through: inputFn -> predictFn -> outputFn. Export only the
// ones you change; the others keep their defaults (see the sagemaker-byoc-node README).
// model/brightness.onnx is a stand-in that tells dark images from bright ones: put your own
// classifier there, and set the input size, the normalisation and the classes below to match.
import sharp from "sharp";
import { BadRequestError, isNDArray, UnsupportedMediaTypeError, type NDArray, type RequestContext } from "sagemaker-byoc-node";

/** The model's classes, in the order of its output columns. */
const classes = ["dark", "bright"] as const;
/** The side of the square the image is resized to (224 for most ImageNet classifiers). */
const inputSize = 224;
/** Largest image accepted, in pixels: a small file can declare a huge image. */
const maxInputPixels = 50_000_000;
const imageTypes = ["image/png", "image/jpeg", "application/octet-stream"];

/** PNG or JPEG bytes in, the model's input out: float32 [1, 3, 224, 224], RGB planes in [0, 1]. */
export async function inputFn(body: Buffer, contentType: string): Promise<NDArray<"float32">> {
  if (!imageTypes.some((type) => contentType.startsWith(type))) {
    throw new UnsupportedMediaTypeError(`Send a PNG or JPEG image (Content-Type ${imageTypes.join(", ")}), not ${contentType}`);
  }
  let pixels: Buffer;
  try {
    pixels = await sharp(body, { limitInputPixels: maxInputPixels })
      .rotate() // as displayed: EXIF orientation applied
      .removeAlpha()
      .toColourspace("srgb")
      .resize(inputSize, inputSize, { fit: "fill" })
      .raw()
      .toBuffer();
  } catch (error) {
    throw new BadRequestError(`The body is not a PNG or JPEG image this endpoint can read: ${(error as Error).message}`);
  }
  // Interleaved RGBRGB... bytes to planes (NCHW), scaled to [0, 1].
  const plane = inputSize * inputSize;
  const data = new Float32Array(3 * plane);
  for (let pixel = 0; pixel < plane; pixel++) {
    for (let channel = 0; channel < 3; channel++) data[channel * plane + pixel] = (pixels[pixel * 3 + channel] ?? 0) / 255;
  }
  return { dtype: "float32", shape: [1, 3, inputSize, inputSize], data };
}

// No predictFn: the default runs the ONNX model in model/ on the tensor inputFn returned.

/** The label and every class's probability, as JSON. */
export function outputFn(prediction: unknown, accept: string, ctx: RequestContext): { body: string; contentType: string } {
  if (!isNDArray(prediction)) throw new Error("Expected the model's output tensor");
  const scores = Array.from(prediction.data as Float32Array);
  const best = scores.indexOf(Math.max(...scores));
  ctx.log.debug({ best, accept }, "classified");
  return {
    body: JSON.stringify({
      label: classes[best] ?? classes[0],
      probabilities: Object.fromEntries(classes.map((name, index) => [name, scores[index] ?? 0])),
    }),
    contentType: "application/json",
  };
}
