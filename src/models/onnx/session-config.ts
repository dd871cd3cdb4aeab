import type { InferenceSession } from "onnxruntime-node";

/**
 * Execution providers the toolkit can ask onnxruntime-node for. `cuda` and `tensorrt` need the
 * CUDA binaries onnxruntime-node's install script downloads (`--onnxruntime-node-install=cuda12`
 * on a CUDA 12 + cuDNN 9 image); `webgpu` ships in the linux/x64 binary and needs
 * `libvulkan.so.1` and a GPU driver with Vulkan; `cpu` always works.
 *
 * @example
 * ```ts
 * const providers: ExecutionProviderName[] = ["cuda", "cpu"];
 * ```
 */
export type ExecutionProviderName = "cuda" | "tensorrt" | "webgpu" | "cpu";

/**
 * How ONNX sessions are created.
 *
 * @example
 * ```ts
 * const config: OnnxSessionConfig = { ...defaultOnnxSessionConfig, executionProviders: ["cuda", "cpu"], intraOpNumThreads: 1 };
 * ```
 */
export interface OnnxSessionConfig {
  /**
   * Providers to try, in order: the first one that loads serves the model. A provider that cannot
   * load is skipped with a warning; "cpu" is never added when absent.
   */
  executionProviders: readonly ExecutionProviderName[];
  /** GPU index for `cuda` and `tensorrt`, the only provider option onnxruntime-node passes on. */
  deviceId: number;
  /**
   * Threads for one operator. onnxruntime defaults to the number of physical cores: set it (often
   * to cores / workers) when several workers share the cores.
   */
  intraOpNumThreads?: number | undefined;
  /** Threads running independent operators at once; used only when `executionMode` is "parallel". */
  interOpNumThreads?: number | undefined;
  /** Graph optimisations applied when the session is created. */
  graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  /** "parallel" runs independent branches of the graph concurrently. */
  executionMode: "sequential" | "parallel";
  /** Keeps freed CPU memory in an arena for reuse instead of returning it to the system. */
  enableCpuMemArena: boolean;
  /** Pre-plans memory from the shapes seen in earlier runs. */
  enableMemPattern: boolean;
  /**
   * Lets the intra-op pool's threads spin between runs instead of sleeping: a few microseconds
   * faster to start a run, at the price of a core kept busy while the model is idle, which the
   * HTTP thread and other workers then lack (docs/onnx-runtime.md).
   */
  allowSpinning: boolean;
  /** Runs each session once with zero-filled inputs at load time, so the first request is not slow. */
  warmUp: boolean;
}

/**
 * The defaults: CPU only, onnxruntime's own thread counts, every graph optimisation, warm-up on.
 *
 * @example
 * ```ts
 * const config: OnnxSessionConfig = { ...defaultOnnxSessionConfig, intraOpNumThreads: 1 };
 * ```
 */
export const defaultOnnxSessionConfig: Readonly<OnnxSessionConfig> = Object.freeze({
  executionProviders: Object.freeze(["cpu"] as const),
  deviceId: 0,
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  enableCpuMemArena: true,
  enableMemPattern: true,
  allowSpinning: false,
  warmUp: true,
});

/**
 * Builds onnxruntime session options that use `provider` alone, so that a provider that cannot
 * load makes session creation fail instead of being skipped inside onnxruntime.
 *
 * @example
 * ```ts
 * const options = toSessionOptions({ ...defaultOnnxSessionConfig, deviceId: 1 }, "cuda");
 * // options.executionProviders: [{ name: "cuda", deviceId: 1 }]
 * const session = await InferenceSession.create("model.onnx", options);
 * ```
 */
export function toSessionOptions(
  config: OnnxSessionConfig,
  provider: ExecutionProviderName,
): InferenceSession.SessionOptions {
  return {
    executionProviders: [providerOption(provider, config.deviceId)],
    graphOptimizationLevel: config.graphOptimizationLevel,
    executionMode: config.executionMode,
    enableCpuMemArena: config.enableCpuMemArena,
    enableMemPattern: config.enableMemPattern,
    // Session config entries (onnxruntime_session_options_config_keys.h), which the Node binding reads as nested keys.
    extra: { session: { intra_op: { allow_spinning: config.allowSpinning ? "1" : "0" }, inter_op: { allow_spinning: config.allowSpinning ? "1" : "0" } } },
    ...(config.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: config.intraOpNumThreads }),
    ...(config.interOpNumThreads === undefined ? {} : { interOpNumThreads: config.interOpNumThreads }),
  };
}

function providerOption(
  provider: ExecutionProviderName,
  deviceId: number,
): InferenceSession.ExecutionProviderConfig {
  switch (provider) {
    case "cuda":
    case "tensorrt":
      return { name: provider, deviceId };
    case "webgpu":
    case "cpu":
      return provider;
  }
}
