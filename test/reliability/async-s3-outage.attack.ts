import { setTimeout as delay } from "node:timers/promises";
import { endpointName, startGatewayChild } from "./async-gateway.js";
import { duration, mebibytes, percentile, type Attack } from "./harness.js";

const queued = 20_000;
const refusedExtra = 200;
const clientConcurrency = 32;
const settleMs = 5_000;
const windowMs = 60_000;
const maxCpuPercent = 5;

/**
 * The flood: with S3 unreachable, 20,000 requests queued kept a full core busy (5,000
 * already took 95% with 136 retries/s, 1.2 MB/s of disk writes and 273 log lines/s), and new
 * requests were accepted 6.7 times slower at the end than at the start.
 */
export const attack: Attack = {
  name: "async queue: 20,000 requests with S3 down",
  description:
    "20,000 InvokeEndpointAsync requests queued over HTTP against a gateway whose S3 endpoint refuses connections (its queue bound raised to 20,000 for the attack), then 200 more; the gateway's CPU time, disk writes and log lines measured over a minute.",
  expectation: `under ${maxCpuPercent}% of a core while S3 is down; accepting as fast at the end as at the start; ServiceUnavailable (503) beyond the bound`,
  async run({ workDir, progress }) {
    const gateway = await startGatewayChild(workDir, { BYOC_ASYNC_MAX_QUEUED_REQUESTS: String(queued) });
    try {
      const accept = async (id: string): Promise<{ status: number; ms: number; errorType: string | null }> => {
        const started = performance.now();
        const response = await fetch(`${gateway.url}/endpoints/${endpointName}/async-invocations`, {
          method: "POST",
          headers: { "x-amzn-sagemaker-inputlocation": `s3://reliability-bucket/input/${id}.json`, "x-amzn-sagemaker-inference-id": id },
        });
        await response.arrayBuffer();
        return { status: response.status, ms: performance.now() - started, errorType: response.headers.get("x-amzn-errortype") };
      };

      progress(`queueing ${queued} requests`);
      const latencies: number[] = [];
      let failures = 0;
      let next = 0;
      const queueStarted = performance.now();
      await Promise.all(
        Array.from({ length: clientConcurrency }, async () => {
          for (let index = next++; index < queued; index = next++) {
            const answer = await accept(`flood-${index}`);
            latencies[index] = answer.ms;
            if (answer.status !== 202) failures++;
            if (index % 5_000 === 4_999) progress(`${index + 1} queued`);
          }
        }),
      );
      const queueMs = performance.now() - queueStarted;
      const firstThousand = latencies.slice(0, 1_000);
      const lastThousand = latencies.slice(-1_000);

      const beyond = await Promise.all(Array.from({ length: refusedExtra }, (_, index) => accept(`beyond-${index}`)));
      const refused = beyond.filter((answer) => answer.status === 503 && answer.errorType === "ServiceUnavailable").length;

      progress(`measuring the gateway for ${windowMs / 1000} s`);
      await delay(settleMs);
      const cpuBefore = gateway.process.cpuMs();
      const diskBefore = gateway.process.diskWriteBytes();
      const linesBefore = gateway.process.lines();
      await delay(windowMs);
      const cpuPercent = ((gateway.process.cpuMs() - cpuBefore) / windowMs) * 100;
      const diskPerSecond = ((gateway.process.diskWriteBytes() - diskBefore) / windowMs) * 1000;
      const linesPerSecond = ((gateway.process.lines() - linesBefore) / windowMs) * 1000;
      const listing = (await (await fetch(`${gateway.url}/async-requests?status=queued,running`)).json()) as { requests: { attempts: number }[] };
      const tried = listing.requests.filter((record) => record.attempts > 0).length;

      const passed = failures === 0 && refused === refusedExtra && listing.requests.length === queued && cpuPercent < maxCpuPercent;
      return {
        passed,
        outcome: `${cpuPercent.toFixed(2)}% of a core with ${listing.requests.length} requests waiting and S3 down; ${refused} of ${refusedExtra} requests beyond the bound got ServiceUnavailable`,
        figures: { requestsServed: queued - failures, failures: failures + (refusedExtra - refused), rssPeakBytes: gateway.process.rssPeakBytes() },
        details: [
          ["requests queued (202)", `${queued - failures} of ${queued}, in ${duration(queueMs)} (${Math.round((queued / queueMs) * 1000)}/s, ${clientConcurrency} clients)`],
          ["accept latency, first 1,000 → last 1,000 (p50)", `${percentile(firstThousand, 0.5).toFixed(1)} ms → ${percentile(lastThousand, 0.5).toFixed(1)} ms`],
          ["accept latency, first 1,000 → last 1,000 (p99)", `${percentile(firstThousand, 0.99).toFixed(1)} ms → ${percentile(lastThousand, 0.99).toFixed(1)} ms`],
          ["beyond the bound", `${refused} of ${refusedExtra} got 503 ServiceUnavailable`],
          [`gateway CPU over ${windowMs / 1000} s with S3 down`, `${cpuPercent.toFixed(2)}% of one core`],
          ["disk writes", `${(diskPerSecond / 1024).toFixed(1)} KiB/s`],
          ["log lines", `${linesPerSecond.toFixed(2)}/s`],
          ["requests tried at least once", `${tried} of ${listing.requests.length}`],
          ["gateway peak RSS", mebibytes(gateway.process.rssPeakBytes())],
        ],
      };
    } finally {
      await gateway.close();
    }
  },
};
