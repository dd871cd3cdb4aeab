import type { Logger } from "pino";
import type { CodecRegistry } from "../codecs/registry.js";
import type { Handlers } from "../handlers/types.js";
import type { Model } from "../models/model.js";
import type { InferencePipeline, InvocationProtocol, InvocationRequest, InvocationResult } from "../pipeline/inference-pipeline.js";
import { describeKserveV2, inferKserveV2 } from "../protocols/kserve-v2/adapter.js";
import { predictVertex } from "../protocols/vertex/adapter.js";

/**
 * A model as a thread hosts it: what a protocol adapter needs to run a request its own way.
 *
 * @example
 * ```ts
 * const front: ProtocolFront = (hosted, request, scope) => hosted.pipeline.invoke(request, scope);
 * ```
 */
export interface HostedModel {
  readonly name: string;
  readonly model: Model;
  readonly handlers: Handlers;
  readonly codecs: CodecRegistry;
  /** SageMaker's decode → predict → encode with the model's handlers. */
  readonly pipeline: InferencePipeline;
}

/**
 * Runs one request of a protocol other than SageMaker's on a hosted model, inside the worker
 * thread, so its decoding and encoding stay off the HTTP thread. Its request body and result are
 * the protocol's own bytes.
 */
export type ProtocolFront = (hosted: HostedModel, request: InvocationRequest, scope: { readonly log: Logger; readonly signal: AbortSignal }) => Promise<InvocationResult>;

/**
 * The adapter of each protocol, by name. SageMaker's requests (no `protocol`) go straight to the
 * model's pipeline.
 */
export const protocolFronts: ReadonlyMap<InvocationProtocol, ProtocolFront> = new Map<InvocationProtocol, ProtocolFront>([
  ["sagemaker", (hosted, request, scope) => hosted.pipeline.invoke(request, scope)],
  ["kserve-v2", inferKserveV2],
  ["kserve-v2-metadata", describeKserveV2],
  ["vertex", predictVertex],
]);
