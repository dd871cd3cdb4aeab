import { basename } from "node:path";
import { InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import { ConfigurationError } from "../../errors.js";
import { toSessionOptions, type ExecutionProviderName, type OnnxSessionConfig } from "./session-config.js";

/** What each provider needs, added to the reason it could not load. */
const PROVIDER_NEEDS: Readonly<Record<Exclude<ExecutionProviderName, "cpu">, string>> = {
  cuda: "needs onnxruntime-node's CUDA binaries (--onnxruntime-node-install=cuda12), CUDA 12, cuDNN 9 and a visible GPU",
  tensorrt:
    "needs onnxruntime-node's CUDA binaries (--onnxruntime-node-install=cuda12), CUDA 12, cuDNN 9, TensorRT and a visible GPU",
  webgpu: "needs libvulkan.so.1 and a GPU driver with Vulkan",
};

/**
 * Creates an onnxruntime session for `modelPath` with the first configured execution provider
 * that loads.
 *
 * Each provider gets its own attempt with that provider alone. onnxruntime-node 1.30 does not
 * fall back silently: measured here without CUDA, `executionProviders: ["cuda"]` and even
 * `["cuda", "cpu"]` make `InferenceSession.create` reject ("OrtSessionOptionsAppendExecutionProvider_Cuda:
 * Failed to load shared library"), and `["webgpu"]` without Vulkan rejects with "Failed to get a
 * WebGPU adapter". So a provider that cannot load is logged as a warning naming it and the
 * reason, and the next one is tried (onnxruntime also prints its own line to stderr naming the
 * shared library it could not open). Once a GPU provider loads, onnxruntime may still run the
 * operators that provider lacks on the CPU; that is normal placement, not a fallback.
 *
 * "cpu" is never added when it is not configured: when every provider fails, the
 * {@link ConfigurationError} lists each failure and says that no CPU fallback was configured.
 * Creation blocks the thread it runs on (docs/onnx-runtime.md): call it in a worker.
 *
 * @example
 * ```ts
 * const config = { ...defaultOnnxSessionConfig, executionProviders: ["cuda", "cpu"] };
 * const { session, provider } = await createSession("/opt/ml/model/model.onnx", config, log);
 * // provider: "cpu" on a machine without CUDA, after a warning naming "cuda"
 * ```
 */
export async function createSession(
  modelPath: string,
  config: OnnxSessionConfig,
  log: Logger,
): Promise<{ session: InferenceSession; provider: ExecutionProviderName }> {
  const model = basename(modelPath);
  const providers = config.executionProviders;
  if (providers.length === 0) {
    throw new ConfigurationError(`Cannot load ${modelPath}: no ONNX execution provider is configured`);
  }
  const failures: string[] = [];
  for (const [index, provider] of providers.entries()) {
    try {
      const session = await InferenceSession.create(modelPath, toSessionOptions(config, provider));
      log.info({ file: model, modelPath, provider }, `Loaded ONNX model ${model} on the ${provider} execution provider`);
      return { session, provider };
    } catch (error) {
      const reason = describeFailure(provider, error);
      failures.push(`${provider}: ${reason}`);
      const next = providers[index + 1];
      if (next !== undefined) {
        log.warn(
          { file: model, modelPath, provider, reason },
          `ONNX execution provider ${provider} cannot load ${model}, trying ${next}: ${reason}`,
        );
      }
    }
  }
  const noFallback = providers.includes("cpu")
    ? ""
    : '\n"cpu" is not among the configured execution providers, so there is no CPU fallback; ' +
      "add it to run on the CPU when the others cannot load.";
  throw new ConfigurationError(
    `Cannot load ONNX model ${modelPath} with any configured execution provider (${providers.join(", ")}):\n` +
      failures.map((failure) => `  - ${failure}`).join("\n") +
      noFallback,
  );
}

function describeFailure(provider: ExecutionProviderName, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  return provider === "cpu" ? message : `${message} (${provider} ${PROVIDER_NEEDS[provider]})`;
}
