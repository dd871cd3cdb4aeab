import assert from "node:assert/strict";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { InferenceSession } from "onnxruntime-node";
import { pino } from "pino";
import sharp from "sharp";
import { ConfigurationError, InferenceError } from "sagemaker-byoc-node";
import type { Handlers, ModelContext, RequestContext } from "sagemaker-byoc-node";
import type { RgbImage } from "../../examples/ocr/decode-image.js";
import { cropLines, decodeLineImages, encodeLineImages, LINE_IMAGES_TYPE, type LineImages } from "../../examples/ocr/line-images.js";
import { loadRecognizer, type Recognizer } from "../../examples/ocr/ocr-models.js";
import * as readText from "../../examples/ocr/read-text.js";
import type { TextReader } from "../../examples/ocr/read-text.js";
import { toReading, type Reading } from "../../examples/ocr/reading.js";
import * as recognition from "../../examples/ocr/recognition.js";
import { decodeCtc, RECOGNIZER_HEIGHT, toRecognizerTensor } from "../../examples/ocr/recognize-text.js";
import { loadPipelineConfig } from "../../src/config/pipeline-config.js";
import { startPipelineGateway, type RunningPipelineGateway } from "../../src/gateway/pipeline/index.js";
import type { RunningServer } from "../../src/server.js";
import { captureLog } from "../helpers/capture-log.js";
import { OCR_MODELS } from "../helpers/onnx-models.js";
import { invoke, startTestServer } from "../helpers/server.js";

// Both handlers files must fit the toolkit's handler interface with their own types.
const oneContainer: Handlers<TextReader, RgbImage, Reading> = readText;
const recognitionContainer: Handlers<Recognizer, LineImages, Reading> = recognition;

const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/ocr/", import.meta.url));
const MODEL_DIR = join(EXAMPLE_DIR, "model");

/** A line of text as the test renders it, and what it says. */
interface RenderedLine {
  readonly text: string;
  readonly font: "DejaVu Sans" | "DejaVu Serif" | "DejaVu Sans Mono";
  readonly bold: boolean;
  readonly size: number;
}

/** Five fonts and sizes, from 24 to 64 pixels; the text mixes cases, digits and punctuation. */
const LINES: readonly RenderedLine[] = [
  { text: "Invoice 2024-117", font: "DejaVu Sans", bold: false, size: 48 },
  { text: "Total due: 1,234.56 EUR", font: "DejaVu Serif", bold: false, size: 36 },
  { text: "serial pipelines read text", font: "DejaVu Sans Mono", bold: false, size: 28 },
  { text: "HELLO WORLD 123", font: "DejaVu Sans", bold: true, size: 64 },
  { text: "Shipping to Berlin", font: "DejaVu Serif", bold: true, size: 24 },
];

/** A white page with LINES in black, turned by `degrees` about the page's centre. */
function pageSvg(degrees = 0): Buffer {
  let baseline = 0;
  const texts = LINES.map((line) => {
    baseline += line.size * 1.9;
    return `<text x="50" y="${baseline}" font-family="${line.font}" font-weight="${line.bold ? "bold" : "normal"}" font-size="${line.size}" fill="black">${line.text}</text>`;
  });
  const height = Math.ceil(baseline + 60);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="${height}"><rect width="100%" height="100%" fill="white"/>` +
      `<g transform="rotate(${degrees} 500 ${height / 2})">${texts.join("")}</g></svg>`,
  );
}

/** The page with noise added to every sample: the sum of three uniform draws (seeded, so the same every run), ±`amount`/2 at most. */
async function noisyPage(amount: number): Promise<Buffer> {
  const { data, info } = await sharp(pageSvg()).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let state = 12345;
  const random = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  for (let index = 0; index < data.length; index++) {
    data[index] = Math.max(0, Math.min(255, Math.round(data[index]! + (random() + random() + random() - 1.5) * (amount / 1.5))));
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

function requestContext(signal = new AbortController().signal): RequestContext {
  return {
    contentType: "application/json",
    accept: "application/json",
    customAttributes: undefined,
    responseCustomAttributes: undefined,
    inferenceId: "test",
    targetModel: undefined,
    targetVariant: undefined,
    sessionId: undefined,
    log: pino({ level: "silent" }),
    signal,
  };
}

describe("OCR pipeline: rendered text read by the one-container reader and by the two-container pipeline", () => {
  let single: RunningServer;
  let pipeline: RunningPipelineGateway;
  const pages = new Map<string, Buffer>();

  before(async () => {
    single = await startTestServer({ handlersPath: join(EXAMPLE_DIR, "read-text.ts"), modelDir: MODEL_DIR });
    pipeline = await startPipelineGateway({
      config: loadPipelineConfig(
        {},
        {
          containers: [`detection=${MODEL_DIR}`, `recognition=${MODEL_DIR}`],
          containerEnvironment: [
            `detection:BYOC_HANDLERS=${join(EXAMPLE_DIR, "inference.ts")}`,
            `detection:SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=${LINE_IMAGES_TYPE}`,
            `recognition:BYOC_HANDLERS=${join(EXAMPLE_DIR, "recognition.ts")}`,
          ],
          port: 0,
          host: "127.0.0.1",
          startupTimeoutMs: 120_000,
        },
      ),
      log: captureLog().log,
      env: { PATH: process.env["PATH"] ?? "", SAGEMAKER_MODEL_SERVER_WORKERS: "1", SAGEMAKER_CONTAINER_LOG_LEVEL: "warn" },
      onContainerOutput: () => undefined,
    });
    pages.set("PNG", await sharp(pageSvg()).png().toBuffer());
    pages.set("JPEG (quality 80)", await sharp(pageSvg()).jpeg({ quality: 80 }).toBuffer());
    pages.set("turned 3°", await sharp(pageSvg(3)).png().toBuffer());
    pages.set("noisy", await noisyPage(120));
  });

  after(async () => {
    await pipeline.close();
    await single.close();
  });

  const readings = new Map<string, Reading>();

  async function readWithOneContainer(name: string): Promise<Reading> {
    const response = await invoke(single, pages.get(name) as Buffer, { "content-type": name.startsWith("JPEG") ? "image/jpeg" : "image/png" });
    assert.equal(response.status, 200, await response.clone().text());
    const reading = (await response.json()) as Reading;
    readings.set(name, reading);
    return reading;
  }

  test("a clean PNG: every line read exactly (five fonts and sizes), top to bottom, with its box on the line", async () => {
    const reading = await readWithOneContainer("PNG");
    assert.deepEqual(
      reading.lines.map((line) => line.text),
      LINES.map((line) => line.text),
    );
    assert.deepEqual([reading.width, reading.height], [1000, (await sharp(pages.get("PNG") as Buffer).metadata()).height]);
    let previousBottom = 0;
    for (const line of reading.lines) {
      assert.ok(line.confidence >= 0.9 && line.confidence <= 1, `${line.text}: confidence ${line.confidence}`);
      assert.ok(line.box.x >= 40 && line.box.x <= 60, `${line.text} starts at the left margin: ${JSON.stringify(line.box)}`);
      assert.ok(line.box.y >= previousBottom, `${line.text} is below the line before`);
      previousBottom = line.box.y + line.box.height;
    }
  });

  for (const [name, tolerance] of [
    ["JPEG (quality 80)", 1],
    ["turned 3°", 2],
    ["noisy", 2],
  ] as const) {
    test(`${name}: every line read, each at most ${tolerance} character(s) off`, async () => {
      const reading = await readWithOneContainer(name);
      assert.equal(reading.lines.length, LINES.length, JSON.stringify(reading.lines));
      reading.lines.forEach((line, index) => {
        const expected = (LINES[index] as RenderedLine).text;
        assert.ok(editDistance(line.text, expected) <= tolerance, `read ${JSON.stringify(line.text)} for ${JSON.stringify(expected)}`);
      });
    });
  }

  test("a blank page: no lines", async () => {
    const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: "white" } }).png().toBuffer();
    const response = await invoke(single, blank, { "content-type": "image/png" });
    assert.deepEqual(await response.json(), { lines: [], width: 640, height: 480 });
  });

  test("the two-container pipeline gives the same answers, byte for byte, as the one-container reader", async () => {
    for (const [name, page] of pages) {
      const response = await fetch(`${pipeline.url}/endpoints/local-endpoint/invocations`, {
        method: "POST",
        body: page,
        headers: { "content-type": name.startsWith("JPEG") ? "image/jpeg" : "image/png", accept: "application/json" },
      });
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(response.headers.get("content-type"), "application/json");
      const expected = readings.get(name) ?? (await readWithOneContainer(name));
      assert.deepEqual(await response.json(), expected, name);
    }
  });

  test("a body that is not an image fails in the detection container: ModelError 424 naming it, with its 400", async () => {
    const response = await fetch(`${pipeline.url}/endpoints/local-endpoint/invocations`, { method: "POST", body: "not an image", headers: { "content-type": "image/png" } });
    assert.equal(response.status, 424);
    const error = (await response.json()) as { Message: string; OriginalStatusCode: number };
    assert.equal(error.OriginalStatusCode, 400);
    assert.match(error.Message, /^Received client error \(400\) from detection with message "Could not decode image: the body is neither a PNG nor a JPEG"/);
  });
});

describe("OCR pipeline: the recognition step", () => {
  test("CTC decoding keeps the most probable class per step, merges repeats, drops blanks, and averages the kept probabilities", () => {
    const characters = ["", "H", "I"];
    // Steps: blank, H, H, blank, H, I.
    const steps = [
      [0.9, 0.05, 0.05],
      [0.1, 0.8, 0.1],
      [0.2, 0.7, 0.1],
      [0.6, 0.2, 0.2],
      [0.1, 0.6, 0.3],
      [0.1, 0.1, 0.8],
    ];
    const read = decodeCtc(Float32Array.from(steps.flat()), steps.length, 3, characters);
    assert.equal(read.text, "HHI");
    assert.ok(Math.abs(read.confidence - (0.8 + 0.6 + 0.8) / 3) < 1e-6, String(read.confidence));
    assert.deepEqual(decodeCtc(Float32Array.from([1, 0, 0, 1, 0, 0]), 2, 3, characters), { text: "", confidence: 0 });
  });

  test("a line becomes [1, 3, 48, W]: height 48 keeping the ratio, B, G, R planes at value / 127.5 − 1, padded with zeros to 320 wide", async () => {
    // 20 x 10 pixels of pure red: 96 wide at 48 high, padded to 320.
    const red: RgbImage = { data: Uint8Array.from({ length: 20 * 10 * 3 }, (_, index) => (index % 3 === 0 ? 255 : 0)), width: 20, height: 10 };
    const tensor = await toRecognizerTensor(red);
    assert.deepEqual(tensor.shape, [1, 3, RECOGNIZER_HEIGHT, 320]);
    const plane = RECOGNIZER_HEIGHT * 320;
    assert.deepEqual([tensor.data[0], tensor.data[plane], tensor.data[2 * plane]], [-1, -1, 1], "blue, green, red");
    assert.equal(tensor.data[95], -1, "the last resized column");
    assert.deepEqual([tensor.data[96], tensor.data[319], tensor.data[2 * plane + 96]], [0, 0, 0], "padding");
    const long = await toRecognizerTensor({ data: new Uint8Array(800 * 40 * 3), width: 800, height: 40 });
    assert.deepEqual(long.shape, [1, 3, 48, 960], "a long line is not padded");
  });

  test("a crop 1.5 times taller than wide is a vertical line, turned before it is read", async () => {
    const tall: RgbImage = { data: new Uint8Array(10 * 30 * 3).fill(255), width: 10, height: 30 };
    assert.deepEqual((await toRecognizerTensor(tall)).shape, [1, 3, 48, 320]);
    // Turned, it is 30 wide and 10 high: 144 columns of content at 48 high.
    const tensor = await toRecognizerTensor(tall);
    assert.equal(tensor.data[143], 1);
    assert.equal(tensor.data[144], 0);
  });

  test("lines read with a confidence under 0.5, or read as empty, are dropped; confidences are rounded", () => {
    const box = (y: number) => ({ x: 1, y, width: 10, height: 5, score: 0.9 });
    const reading = toReading(
      [box(0), box(10), box(20)],
      [
        { text: "kept", confidence: 0.87654 },
        { text: "faint", confidence: 0.4 },
        { text: "", confidence: 0 },
      ],
      { width: 100, height: 50 },
    );
    assert.deepEqual(reading, { lines: [{ text: "kept", confidence: 0.877, box: { x: 1, y: 0, width: 10, height: 5 } }], width: 100, height: 50 });
  });

  test("the recognition container refuses anything but the detection container's lines, saying how to set the pipeline up", async () => {
    await assert.rejects(async () => recognitionContainer.inputFn!(Buffer.from("{}"), "application/json", requestContext()), (error: unknown) => {
      assert.ok(error instanceof InferenceError);
      assert.equal(error.statusCode, 415);
      assert.match(error.message, /send application\/x-ocr-lines\+json, as the detection container answers when its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is application\/x-ocr-lines\+json/);
      return true;
    });
  });

  test("the one-container reader skips inference for a request already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("client went away"));
    const image: RgbImage = { data: new Uint8Array(64 * 64 * 3).fill(255), width: 64, height: 64 };
    const detector = await InferenceSession.create(OCR_MODELS.detector);
    try {
      await assert.rejects(async () => oneContainer.predictFn!(image, { detector } as TextReader, requestContext(controller.signal)), /client went away/);
    } finally {
      await detector.release();
    }
  });
});

describe("OCR pipeline: the lines handed from the detection container to the recognition container", () => {
  const image: RgbImage = { data: Uint8Array.from({ length: 6 * 4 * 3 }, (_, index) => index), width: 6, height: 4 };
  const boxes = [
    { x: 1, y: 1, width: 3, height: 2, score: 0.9 },
    { x: 0, y: 3, width: 6, height: 1, score: 0.8 },
  ];

  test("crops each box's pixels exactly, and survives the PNG round trip byte for byte", async () => {
    const lines = cropLines(image, boxes);
    // Row 1, columns 1-3, then row 2, columns 1-3.
    assert.deepEqual([...(lines[0]?.image.data ?? [])], [21, 22, 23, 24, 25, 26, 27, 28, 29, 39, 40, 41, 42, 43, 44, 45, 46, 47]);
    assert.deepEqual([...(lines[1]?.image.data ?? [])], Array.from({ length: 18 }, (_, index) => 54 + index));
    const body = await encodeLineImages({ width: 6, height: 4, lines });
    const decoded = await decodeLineImages(Buffer.from(body));
    assert.deepEqual(
      { width: decoded.width, height: decoded.height, lines: decoded.lines.map(({ box, image: crop }) => ({ box, data: [...crop.data] })) },
      { width: 6, height: 4, lines: lines.map(({ box, image: crop }) => ({ box, data: [...crop.data] })) },
    );
  });

  test("refuses what is not a hand-over with 400 and the reason", async () => {
    const [line] = JSON.parse(await encodeLineImages({ width: 6, height: 4, lines: cropLines(image, boxes) })).lines as { box: object; png: string }[];
    const refuses = async (body: unknown, reason: RegExp) =>
      assert.rejects(decodeLineImages(Buffer.from(typeof body === "string" ? body : JSON.stringify(body))), (error: unknown) => {
        assert.ok(error instanceof InferenceError);
        assert.equal(error.statusCode, 400);
        assert.equal(error.code, "INVALID_LINES");
        assert.match(error.message, reason);
        return true;
      });
    await refuses("not json", /^Not a application\/x-ocr-lines\+json body: the body is not JSON/);
    await refuses({ width: 0, height: 4, lines: [] }, /width and height must be positive whole numbers/);
    await refuses({ width: 6, height: 4 }, /lines must be an array/);
    await refuses({ width: 6, height: 4, lines: Array(1001).fill(line) }, /1001 lines; at most 1000/);
    await refuses({ width: 6, height: 4, lines: [{ ...line, box: { x: -1, y: 0, width: 3, height: 2, score: 1 } }] }, /lines\[0\]\.box must have whole-number x, y, width, height/);
    await refuses({ width: 6, height: 4, lines: [{ box: line?.box }] }, /lines\[0\]\.png must be a base64 PNG/);
    await refuses({ width: 6, height: 4, lines: [{ ...line, png: Buffer.from("GIF89a").toString("base64") }] }, /lines\[0\]\.png: not a PNG/);
    await refuses({ width: 6, height: 4, lines: [{ ...line, box: { x: 1, y: 1, width: 4, height: 2, score: 0.9 } }] }, /lines\[0\]\.png: 3x2 pixels, not the box's 4x2/);
  });
});

describe("OCR pipeline: loading the recogniser", () => {
  const log = pino({ level: "silent" });
  const opened: InferenceSession[] = [];
  const ctx: ModelContext = {
    log,
    modelName: "model",
    workerId: 0,
    loadOnnxModels: () => Promise.reject(new Error("not used")),
    async loadOnnxModel(file) {
      const session = await InferenceSession.create(file);
      opened.push(session);
      return session;
    },
  };
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "ocr-recognizer-"));
  });
  after(async () => {
    await Promise.all(opened.map((session) => session.release()));
    await rm(scratch, { recursive: true, force: true });
  });

  test("loads the package's recogniser and its 6623-character dictionary (with CTC's blank and a space) when the model directory has none", async () => {
    const { characters } = await loadRecognizer(MODEL_DIR, ctx);
    assert.equal(characters.length, 6625);
    assert.equal(characters[0], "");
    assert.equal(characters.at(-1), " ");
  });

  test("refuses a recogniser without its dictionary, a dictionary of another size, and a model that is not a recogniser", async () => {
    const dir = await mkdtemp(join(scratch, "own-"));
    await symlink(OCR_MODELS.recognizer, join(dir, "ch_PP-OCRv4_rec_infer.onnx"));
    await assert.rejects(loadRecognizer(dir, ctx), (error: unknown) => error instanceof ConfigurationError && error.message.startsWith(`${join(dir, "ppocr_keys_v1.txt")}: the recogniser's character dictionary is missing`));
    await writeFile(join(dir, "ppocr_keys_v1.txt"), "a\nb\n");
    await assert.rejects(loadRecognizer(dir, ctx), (error: unknown) => error instanceof ConfigurationError && /has 6625 classes but .* gives 4 \(blank, 2 characters, space\)/.test(error.message));
    const other = await mkdtemp(join(scratch, "other-"));
    await symlink(OCR_MODELS.classifier, join(other, "classifier.onnx"));
    await writeFile(join(other, "ppocr_keys_v1.txt"), "a\n");
    await assert.rejects(loadRecognizer(other, ctx), (error: unknown) => error instanceof ConfigurationError && /expected a PaddleOCR text recogniser/.test(error.message));
  });
});
