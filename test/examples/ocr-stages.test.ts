/**
 * The OCR example as typed stages in one container (examples/ocr/read-text-stages.ts) against
 * the same steps in one `predictFn` (examples/ocr/read-text.ts), over real HTTP with the real
 * PaddleOCR models: the answers are the same bytes, with the recogniser in the request's worker
 * or on a worker of its own, and a page without text answers after the detector.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import type { Reading } from "../../examples/ocr/reading.js";
import type { RunningServer } from "../../src/server.js";
import { spawnServe, type ServeChild } from "../helpers/serve-child.js";
import { invoke, startTestServer } from "../helpers/server.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/ocr/", import.meta.url));
const MODEL_DIR = join(EXAMPLE_DIR, "model");
const recognizeWorkerHandlers = fileURLToPath(new URL("../fixtures/handlers/ocr-stages-recognize-worker.ts", import.meta.url));

const TEXTS = ["Invoice 2024-117", "Total due: 1,234.56 EUR", "HELLO WORLD 123"];

/** A white page with TEXTS in black, one line each, in `font`. */
function page(font: string): Promise<Buffer> {
  const lines = TEXTS.map((text, index) => `<text x="40" y="${90 + index * 90}" font-family="${font}" font-size="44" fill="black">${text}</text>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="340"><rect width="100%" height="100%" fill="white"/>${lines.join("")}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe("OCR as stages in one container: the same answers as the one-predictFn reader", () => {
  let single: RunningServer;
  let recognizeWorker: RunningServer;
  let staged: ServeChild;
  const pages = new Map<string, Buffer>();
  let requests = 0;

  before(async () => {
    single = await startTestServer({ handlersPath: join(EXAMPLE_DIR, "read-text.ts"), modelDir: MODEL_DIR });
    recognizeWorker = await startTestServer({ handlersPath: recognizeWorkerHandlers, modelDir: MODEL_DIR, workers: 2 });
    staged = await spawnServe(["--handlers", join(EXAMPLE_DIR, "read-text-stages.ts"), "--model-dir", MODEL_DIR, "--workers", "1"]);
    pages.set("sans", await page("DejaVu Sans"));
    pages.set("serif", await page("DejaVu Serif"));
    pages.set("blank", await sharp({ create: { width: 640, height: 480, channels: 3, background: "white" } }).png().toBuffer());
  });

  after(async () => {
    staged.child.kill("SIGKILL");
    await recognizeWorker.close();
    await single.close();
  });

  /** The answer of `url`'s server to page `name`, and the log line of the staged child when `url` is its. */
  async function read(url: string, name: string): Promise<{ status: number; contentType: string | null; body: string; inferenceId: string }> {
    const inferenceId = `ocr-stages-${++requests}`;
    const response = await fetch(`${url}/invocations`, {
      method: "POST",
      body: pages.get(name) as Buffer,
      headers: { "content-type": "image/png", "x-amzn-sagemaker-inference-id": inferenceId },
    });
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text(), inferenceId };
  }

  for (const name of ["sans", "serif", "blank"]) {
    test(`page "${name}": every variant answers the one-predictFn reader's bytes`, async () => {
      const expected = await read(single.url, name);
      assert.equal(expected.status, 200, expected.body);
      // The reading's quality is ocr-pipeline.test.ts's matter; here it must have found the lines.
      assert.equal((JSON.parse(expected.body) as Reading).lines.length, name === "blank" ? 0 : TEXTS.length, expected.body);
      for (const [variant, url] of [["stages", staged.url], ["recogniser on its own worker", recognizeWorker.url]] as const) {
        const answer = await read(url, name);
        assert.equal(answer.status, 200, `${variant}: ${answer.body}`);
        assert.equal(answer.contentType, expected.contentType, variant);
        assert.equal(answer.body, expected.body, variant);
      }
    });
  }

  test("the log line times detect, crop, recognize and answer; a blank page answers early, after crop", async () => {
    const text = await read(staged.url, "sans");
    const textLine = await staged.waitForLog((entry) => entry["msg"] === "invocation" && entry["inferenceId"] === text.inferenceId);
    assert.deepEqual(Object.keys(textLine["stages"] as object), ["detect", "crop", "recognize", "answer"]);
    const blank = await read(staged.url, "blank");
    assert.deepEqual(JSON.parse(blank.body), { lines: [], width: 640, height: 480 });
    const blankLine = await staged.waitForLog((entry) => entry["msg"] === "invocation" && entry["inferenceId"] === blank.inferenceId);
    assert.deepEqual(Object.keys(blankLine["stages"] as object), ["detect", "crop"]);
  });

  test("a body that is not an image is the detect stage's 400, naming it", async () => {
    const response = await invoke(single, "not an image", { "content-type": "image/png" });
    const staging = await fetch(`${staged.url}/invocations`, { method: "POST", body: "not an image", headers: { "content-type": "image/png" } });
    assert.equal(staging.status, 400);
    const { error } = (await staging.json()) as { error: { code: string; message: string; stage: string } };
    const { error: expected } = (await response.json()) as { error: { code: string; message: string } };
    assert.deepEqual(error, { code: expected.code, message: `Stage "detect": ${expected.message}`, stage: "detect" });
  });
});
