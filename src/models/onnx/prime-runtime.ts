import { InferenceSession, Tensor } from "onnxruntime-node";

/** A one-operator ONNX model (Identity on a float32 [1]), 108 bytes. */
const identityModel = Buffer.from(
  "CAgSGXNhZ2VtYWtlci1ieW9jLW5vZGUgdGVzdHM6QQoXCgF4EgF5GgVub2RlMCIISWRlbnRpdHkSBHRlc3RaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAN",
  "base64",
);

/**
 * Creates, runs and releases a tiny session, so that ONNX Runtime's one-time set-up in this thread
 * (its environment, thread pools and code pages, about 25 MB here) is paid before the first model
 * loads: a multi-model server charges each model the memory its load adds, and the first model
 * would otherwise carry the runtime's share.
 *
 * @example
 * ```ts
 * await primeOnnxRuntime();
 * ```
 */
export async function primeOnnxRuntime(): Promise<void> {
  const session = await InferenceSession.create(identityModel);
  try {
    await session.run({ x: new Tensor("float32", Float32Array.of(0), [1]) });
  } finally {
    await session.release();
  }
}
