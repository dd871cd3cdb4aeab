import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { s3Credentials, startTestS3 } from "../helpers/s3-server.js";
import { endpointName, startGatewayChild } from "./async-gateway.js";
import type { Attack } from "./harness.js";

/**
 * A client-chosen InferenceId of ../../evil-bucket/x reached S3 request paths as is
 * (PUT /out-bucket/fail/../../evil-bucket/x-error.out), and so did .. in InputLocation.
 */
export const attack: Attack = {
  name: "S3 keys: ../ in inference ids and input locations",
  description:
    "InvokeEndpointAsync requests with inference ids and input locations that climb out of their prefix (`../../evil-bucket/x`, `..\\..\\x`, `%2e%2e`, `./`), sent to a gateway writing to a real S3-protocol server (s3rver) that also holds an `evil-bucket`; then every bucket is listed.",
  expectation: "every such request a ValidationError (400); nothing written anywhere, no request reaching S3",
  async run({ workDir }) {
    const s3 = await startTestS3("reliability-bucket");
    await s3.client.send(new CreateBucketCommand({ Bucket: "evil-bucket" }));
    await s3.put("input/payload.json", "[[5.1, 3.5, 1.4, 0.2]]", "application/json");
    const gateway = await startGatewayChild(workDir, {
      BYOC_ASYNC_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3Credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
    });
    try {
      const input = "s3://reliability-bucket/input/payload.json";
      const hostile: { inferenceId?: string; inputLocation: string }[] = [
        ...["../../evil-bucket/x", "..\\..\\evil-bucket\\x", "../x", "a/../../evil-bucket/x", "/evil-bucket/x", "%2e%2e/%2e%2e/evil-bucket/x"].map((inferenceId) => ({ inferenceId, inputLocation: input })),
        ...[
          "s3://reliability-bucket/input/../../evil-bucket/x",
          "s3://reliability-bucket/input/%2e%2e/%2e%2e/evil-bucket/x",
          "s3://reliability-bucket/./input/payload.json",
          "s3://reliability-bucket/input/..\\..\\evil-bucket\\x",
          "https://reliability-bucket.s3.us-east-1.amazonaws.com/input/%2E%2E/%2E%2E/evil-bucket/x",
          "https://localhost/reliability-bucket/input/../../evil-bucket/x",
        ].map((inputLocation) => ({ inputLocation })),
      ];
      const requestsBefore = s3.requests.length;
      let refused = 0;
      for (const { inferenceId, inputLocation } of hostile) {
        const response = await fetch(`${gateway.url}/endpoints/${endpointName}/async-invocations`, {
          method: "POST",
          headers: { "x-amzn-sagemaker-inputlocation": inputLocation, ...(inferenceId === undefined ? {} : { "x-amzn-sagemaker-inference-id": inferenceId }) },
        });
        await response.arrayBuffer();
        if (response.status === 400 && response.headers.get("x-amzn-errortype") === "ValidationError") refused++;
      }
      // Requests that passed would run now: give the worker time to write whatever it would.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const reachedS3 = s3.requests.length - requestsBefore;
      const { Buckets = [] } = await s3.client.send(new ListBucketsCommand({}));
      const objects: string[] = [];
      for (const { Name } of Buckets) {
        const { Contents = [] } = await s3.client.send(new ListObjectsV2Command({ Bucket: Name }));
        objects.push(...Contents.map(({ Key }) => `${Name}/${Key}`));
      }
      const written = objects.filter((key) => key !== "reliability-bucket/input/payload.json");
      const passed = refused === hostile.length && reachedS3 === 0 && written.length === 0;
      return {
        passed,
        outcome: `${refused} of ${hostile.length} hostile requests refused with ValidationError; ${written.length} objects written, ${reachedS3} requests reached S3`,
        figures: { requestsServed: refused, failures: hostile.length - refused },
        details: [
          ["hostile inference ids refused (400 ValidationError)", `${hostile.filter((request) => request.inferenceId !== undefined).length} sent`],
          ["hostile input locations refused (400 ValidationError)", `${hostile.filter((request) => request.inferenceId === undefined).length} sent`],
          ["requests that reached S3 afterwards", String(reachedS3)],
          ["objects in any bucket besides the input", written.length === 0 ? "none" : written.join(", ")],
        ],
      };
    } finally {
      await gateway.close();
      await s3.close();
    }
  },
};
