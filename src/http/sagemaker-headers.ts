import type { IncomingHttpHeaders } from "node:http";
import type { InvocationRequest } from "../pipeline/inference-pipeline.js";

/**
 * The request headers SageMaker passes to a container besides Content-Type and Accept
 * (docs/sagemaker-contract.md), and the {@link InvocationRequest} field each fills. The one list
 * both directions use: reading a request, and forwarding one to a container.
 */
const forwardedHeaders = [
  ["content-type", "contentType"],
  ["accept", "accept"],
  ["x-amzn-sagemaker-custom-attributes", "customAttributes"],
  ["x-amzn-sagemaker-target-model", "targetModel"],
  ["x-amzn-sagemaker-target-variant", "targetVariant"],
  ["x-amzn-sagemaker-session-id", "sessionId"],
] as const;

/**
 * One header's value: the first when it was sent several times.
 *
 * @example
 * ```ts
 * headerValue(req.headers, "content-type"); // "application/json"
 * ```
 */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Builds the pipeline's request from an HTTP request's headers and body.
 *
 * @example
 * ```ts
 * const request = invocationRequestFrom(req.headers, body, inferenceId);
 * ```
 */
export function invocationRequestFrom(headers: IncomingHttpHeaders, body: Buffer, inferenceId: string): InvocationRequest {
  const fields: Record<string, string | undefined> = {};
  for (const [header, field] of forwardedHeaders) fields[field] = headerValue(headers, header);
  return { ...(fields as Pick<InvocationRequest, (typeof forwardedHeaders)[number][1]>), body, inferenceId };
}

/**
 * The headers that carry `request` to a container's `/invocations`, as SageMaker sends them.
 *
 * @example
 * ```ts
 * http.request(url, { method: "POST", headers: invocationHeaders(request) });
 * ```
 */
export function invocationHeaders(request: Omit<InvocationRequest, "body">): Record<string, string> {
  const headers: Record<string, string> = { "x-amzn-sagemaker-inference-id": request.inferenceId };
  for (const [header, field] of forwardedHeaders) {
    const value = request[field];
    if (value !== undefined) headers[header] = value;
  }
  return headers;
}
