import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { AsyncRequestRecord } from "../../src/gateway/async/queue.js";
import { endpointName, startGatewayChild, successTopic } from "./async-gateway.js";
import { duration, mebibytes, type Attack } from "./harness.js";

const pending = 20_000;
const settleMs = 5_000;
const windowMs = 60_000;
const maxCpuPercent = 5;

/**
 * The notification side of the queue flood: finished requests whose notifications cannot be
 * published because SNS is down each retried on their own.
 */
export const attack: Attack = {
  name: "async notifications: 20,000 pending with SNS down",
  description:
    "A queue directory holding 20,000 finished requests whose success notifications are pending, opened by a gateway whose SNS endpoint refuses connections; the gateway's CPU time, disk writes and log lines measured over a minute.",
  expectation: `under ${maxCpuPercent}% of a core while SNS is down, every notification still pending (none lost)`,
  async run({ workDir, progress }) {
    progress(`writing ${pending} finished records`);
    const requests = join(workDir, "requests");
    await mkdir(requests, { recursive: true });
    const now = Date.now();
    for (let index = 0; index < pending; index++) {
      const inferenceId = `finished-${index}`;
      const record: AsyncRequestRecord = {
        inferenceId,
        endpointName,
        status: "completed",
        receivedTime: new Date(now - 60_000).toISOString(),
        inputLocation: `s3://reliability-bucket/input/${inferenceId}.json`,
        outputLocation: `s3://reliability-bucket/output/${inferenceId}.out`,
        failureLocation: `s3://reliability-bucket/failure/${inferenceId}-error.out`,
        contentType: "application/json",
        accept: undefined,
        customAttributes: undefined,
        requestTtlSeconds: 21_600,
        invocationTimeoutSeconds: 900,
        attempts: 1,
        completedTime: new Date(now - 30_000).toISOString(),
        responseContentType: "application/json",
        notification: { status: "pending", attempts: 0 },
      };
      await writeFile(join(requests, `${Buffer.from(inferenceId).toString("hex")}.json`), JSON.stringify(record));
    }

    const started = performance.now();
    const gateway = await startGatewayChild(workDir, { BYOC_ASYNC_SUCCESS_TOPIC: successTopic });
    const startMs = performance.now() - started;
    try {
      progress(`measuring the gateway for ${windowMs / 1000} s`);
      await delay(settleMs);
      const cpuBefore = gateway.process.cpuMs();
      const diskBefore = gateway.process.diskWriteBytes();
      const linesBefore = gateway.process.lines();
      await delay(windowMs);
      const cpuPercent = ((gateway.process.cpuMs() - cpuBefore) / windowMs) * 100;
      const diskPerSecond = ((gateway.process.diskWriteBytes() - diskBefore) / windowMs) * 1000;
      const linesPerSecond = ((gateway.process.lines() - linesBefore) / windowMs) * 1000;
      const listing = (await (await fetch(`${gateway.url}/async-requests?status=completed`)).json()) as { requests: AsyncRequestRecord[] };
      const stillPending = listing.requests.filter((record) => record.notification?.status === "pending").length;

      const passed = cpuPercent < maxCpuPercent && stillPending === pending;
      return {
        passed,
        outcome: `${cpuPercent.toFixed(2)}% of a core with ${stillPending} notifications pending and SNS down`,
        figures: { requestsServed: stillPending, failures: pending - stillPending, rssPeakBytes: gateway.process.rssPeakBytes() },
        details: [
          ["gateway start-up with 20,000 records", duration(startMs)],
          [`gateway CPU over ${windowMs / 1000} s with SNS down`, `${cpuPercent.toFixed(2)}% of one core`],
          ["disk writes", `${(diskPerSecond / 1024).toFixed(1)} KiB/s`],
          ["log lines", `${linesPerSecond.toFixed(2)}/s`],
          ["notifications still pending (kept for when SNS answers)", `${stillPending} of ${pending}`],
          ["gateway peak RSS", mebibytes(gateway.process.rssPeakBytes())],
        ],
      };
    } finally {
      await gateway.close();
    }
  },
};
