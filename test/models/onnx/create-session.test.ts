import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigurationError } from "../../../src/errors.js";
import { createSession } from "../../../src/models/onnx/create-session.js";
import { defaultOnnxSessionConfig, type OnnxSessionConfig } from "../../../src/models/onnx/session-config.js";
import { captureLog } from "../../helpers/capture-log.js";
import { OCR_MODELS } from "../../helpers/onnx-models.js";

const classifier = OCR_MODELS.classifier;
const withProviders = (executionProviders: OnnxSessionConfig["executionProviders"]): OnnxSessionConfig => ({
  ...defaultOnnxSessionConfig,
  executionProviders,
});

describe("createSession provider fallback", () => {
  it("serves on the CPU after a warning naming cuda and why it could not load", async () => {
    const { log, records } = captureLog();
    const { session, provider } = await createSession(classifier, withProviders(["cuda", "cpu"]), log);
    try {
      assert.equal(provider, "cpu");
      const warnings = records.filter((record) => record.level === "warn");
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.["provider"], "cuda");
      assert.match(warnings[0]?.msg ?? "", /cuda cannot load ch_ppocr_mobile_v2\.0_cls_infer\.onnx, trying cpu: .*Failed to load shared library/);
    } finally {
      await session.release();
    }
  });

  it("serves on the CPU after a warning naming webgpu when Vulkan is missing", async () => {
    const { log, records } = captureLog();
    const { session, provider } = await createSession(classifier, withProviders(["webgpu", "cpu"]), log);
    try {
      assert.equal(provider, "cpu");
      const warning = records.find((record) => record.level === "warn");
      assert.equal(warning?.["provider"], "webgpu");
      assert.match(String(warning?.["reason"]), /WebGPU adapter.*libvulkan\.so\.1/);
    } finally {
      await session.release();
    }
  });

  it("logs one info line naming the model file and the provider in use", async () => {
    const { log, records } = captureLog();
    const { session } = await createSession(classifier, withProviders(["cpu"]), log);
    await session.release();
    const infos = records.filter((record) => record.level === "info");
    assert.equal(infos.length, 1);
    assert.equal(infos[0]?.["provider"], "cpu");
    assert.equal(infos[0]?.["file"], "ch_ppocr_mobile_v2.0_cls_infer.onnx");
    assert.equal(records.some((record) => record.level === "warn"), false);
  });

  it("fails with every provider's reason and no silent CPU fallback when cpu is not configured", async () => {
    const { log } = captureLog();
    await assert.rejects(createSession(classifier, withProviders(["tensorrt", "cuda"]), log), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /- tensorrt: .*TensorRT: Failed to load shared library/);
      assert.match(error.message, /- cuda: .*Cuda: Failed to load shared library/);
      assert.match(error.message, /"cpu" is not among the configured execution providers, so there is no CPU fallback/);
      return true;
    });
  });

  it("fails on cuda alone instead of running on the CPU", async () => {
    const { log } = captureLog();
    await assert.rejects(createSession(classifier, withProviders(["cuda"]), log), ConfigurationError);
  });

  it("fails with a configuration error when no provider is configured", async () => {
    const { log } = captureLog();
    await assert.rejects(createSession(classifier, withProviders([]), log), /no ONNX execution provider is configured/);
  });

  describe("with a broken model file", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "create-session-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("reports onnxruntime's reason for the file", async () => {
      const path = join(dir, "truncated.onnx");
      await writeFile(path, (await readFile(classifier)).subarray(0, 1000));
      const { log } = captureLog();
      await assert.rejects(createSession(path, withProviders(["cpu"]), log), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /truncated\.onnx/);
        assert.match(error.message, /- cpu: .*protobuf parsing failed/i);
        return true;
      });
    });
  });
});

describe("createSession thread options", { skip: !existsSync("/proc/self/task") && "needs Linux /proc to count threads" }, () => {
  const threadCount = (): number => readdirSync("/proc/self/task").length;

  /** Threads a live session adds to the process, with onnxruntime's one-off global threads already started. */
  async function threadsAddedBy(config: OnnxSessionConfig): Promise<number> {
    const { log } = captureLog();
    const before = threadCount();
    const { session } = await createSession(classifier, config, log);
    const added = threadCount() - before;
    await session.release();
    return added;
  }

  before(async () => {
    // Start libuv's pool and onnxruntime's global threads so they do not count as the session's.
    await readFile(classifier);
    await threadsAddedBy({ ...defaultOnnxSessionConfig, intraOpNumThreads: 1 });
  });

  it("gives a session intraOpNumThreads - 1 pool threads besides the caller's", async () => {
    assert.equal(await threadsAddedBy({ ...defaultOnnxSessionConfig, intraOpNumThreads: 1 }), 0);
    assert.equal(await threadsAddedBy({ ...defaultOnnxSessionConfig, intraOpNumThreads: 3 }), 2);
  });

  it("starts interOpNumThreads - 1 more threads in parallel execution mode", async () => {
    const parallel = { ...defaultOnnxSessionConfig, intraOpNumThreads: 1, interOpNumThreads: 3 };
    assert.equal(await threadsAddedBy({ ...parallel, executionMode: "parallel" }), 2);
    assert.equal(await threadsAddedBy({ ...parallel, executionMode: "sequential" }), 0);
  });
});
