/**
 * OCR in one container as a pipeline of typed stages (docs/pipelines.md): detect → crop → recognize
 * → answer, each stage with its own model and handlers, each stage's output handed to the next
 * in memory. The same steps as read-text.ts, which runs them in one `predictFn`: both answer
 * byte for byte the same. The request log line gives each stage's time; a page without text
 * answers after the detector.
 *
 *   npx sagemaker-byoc serve --handlers examples/ocr/read-text-stages.ts --model-dir examples/ocr/model
 */
import type { InferenceSession } from "onnxruntime-node";
import { answerEarly, defineStage, stages } from "sagemaker-byoc-node";
import type { RequestContext, Stage } from "sagemaker-byoc-node";
import type { RgbImage } from "./decode-image.js";
import type { TextBox } from "./detect-boxes.js";
import { detectTextBoxes } from "./detect-text.js";
import { inputFn as decodeRequestImage, type Detection } from "./inference.js";
import { cropLines, type LineImages } from "./line-images.js";
import { loadDetector, loadRecognizer, type Recognizer } from "./ocr-models.js";
import { encodeReading, toReading, type Reading } from "./reading.js";
import { recognizeText, type RecognizedText } from "./recognize-text.js";

/**
 * What the recogniser read, line by line, with where each line is: the `answer` stage's input.
 *
 * @example
 * ```ts
 * const read: ReadLines = { boxes: [box], texts: [{ text: "HELLO", confidence: 0.99 }], width: 1100, height: 520 };
 * ```
 */
export interface ReadLines {
  readonly boxes: readonly TextBox[];
  readonly texts: readonly RecognizedText[];
  readonly width: number;
  readonly height: number;
}

/**
 * Where the text lines are: PNG and JPEG bodies decoded into upright pixels (the detection
 * container's `inputFn`), then the detector (see detect-text.ts).
 *
 * @example
 * ```ts
 * const detection = await detect.spec.predictFn?.(image, detector, ctx);
 * ```
 */
export const detect = defineStage({
  name: "detect",
  modelFn: loadDetector,
  inputFn: (body: Buffer, contentType: string): Promise<RgbImage> => decodeRequestImage(body, contentType),
  predictFn: async (image: RgbImage, detector: InferenceSession, ctx: RequestContext): Promise<Detection> => ({
    image,
    boxes: await detectTextBoxes(detector, image, ctx.signal),
  }),
});

/**
 * Each line's pixels, cut out of the image. A page where the detector found no text answers here,
 * early: there is nothing to recognise.
 *
 * @example
 * ```ts
 * const lines = crop.spec.predictFn?.(detection, undefined, ctx);
 * ```
 */
export const crop = defineStage({
  name: "crop",
  predictFn: ({ image, boxes }: Detection) =>
    boxes.length === 0 ? answerEarly(toReading([], [], image)) : { width: image.width, height: image.height, lines: cropLines(image, boxes) },
});

/**
 * The recogniser, one line per run (see recognize-text.ts). With `workers`, it runs on that many
 * workers of its own: the recogniser (10.8 MB, the larger model) is then loaded that many times
 * rather than once per worker, and the cropped lines cross threads with their pixels moved.
 *
 * @example
 * ```ts
 * const pipeline = stages(detect).then(crop).then(recognizeStage(1)).then(answer);
 * ```
 */
export function recognizeStage(workers?: number): Stage<LineImages, ReadLines> {
  return defineStage({
    name: "recognize",
    modelFn: loadRecognizer,
    predictFn: async (input: LineImages, recognizer: Recognizer, ctx: RequestContext): Promise<ReadLines> => ({
      boxes: input.lines.map((line) => line.box),
      texts: await recognizeText(recognizer, input.lines.map((line) => line.image), ctx.signal),
      width: input.width,
      height: input.height,
    }),
    ...(workers === undefined ? {} : { workers }),
  });
}

/**
 * Pairs each box with what was read in it and drops unsure lines (see reading.ts).
 *
 * @example
 * ```ts
 * const reading = answer.spec.predictFn?.(read, undefined, ctx);
 * ```
 */
export const answer = defineStage({
  name: "answer",
  predictFn: ({ boxes, texts, width, height }: ReadLines): Reading => toReading(boxes, texts, { width, height }),
});

/**
 * The reader: `recognizeWorkers` runs the recogniser on that many workers of its own (see
 * {@link recognizeStage}); by default every stage runs in the worker that took the request.
 *
 * @example
 * ```ts
 * export const pipeline = readTextStages({ recognizeWorkers: 1 });
 * ```
 */
export function readTextStages(options: { readonly recognizeWorkers?: number } = {}) {
  return stages(detect).then(crop).then(recognizeStage(options.recognizeWorkers)).then(answer).encodeWith(encodeReading);
}

/** The handlers file's pipeline: every stage in the worker that took the request. */
export const pipeline = readTextStages();
