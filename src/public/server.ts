/**
 * `sagemaker-byoc-node/server`: the model server from code (what `sagemaker-byoc serve` runs),
 * its settings, ONNX session loading, and safe `model.tar.gz` extraction.
 */
export { startServer, type RunningServer } from "../server.js";
export type { InvokeOptions } from "../dispatch/worker-pool.js";
export type { InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
export { defaultConfig, loadConfig, type ConfigOverrides, type LogLevel, type ServerConfig } from "../config/server-config.js";
export { loadOnnxModels, loadOnnxModel, releaseOnnxModels } from "../models/onnx/load-models.js";
export { defaultOnnxSessionConfig, type ExecutionProviderName, type OnnxSessionConfig } from "../models/onnx/session-config.js";
export { defaultArchiveLimits, extractModelArchive, type ArchiveLimits } from "../models/artifacts/model-archive.js";
export { ModelArchiveError } from "../errors.js";
