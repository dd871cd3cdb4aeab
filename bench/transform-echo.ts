/**
 * A handlers file for `npm run bench:transform` that answers each request with its own body: a
 * transform against it measures the job's machinery (reading, splitting, batching, HTTP, the
 * record checks, the hand-over to the worker thread and back, writing) without a codec or a model.
 */
export function modelFn(): Record<string, never> {
  return {};
}

export function transformFn(_model: unknown, body: Buffer, contentType: string): { body: Buffer; contentType: string } {
  return { body, contentType };
}
