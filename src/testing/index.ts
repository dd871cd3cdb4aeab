/**
 * sagemaker-byoc-node/testing: unit-test handlers in-process, through the same pipeline the
 * server runs, without HTTP or worker threads.
 */
export { createTestEndpoint, type TestEndpoint, type TestEndpointOptions, type TestRequest, type TestResponse } from "./test-endpoint.js";
