import { setTimeout as delay } from "node:timers/promises";
import { allocatorEnvironment } from "../../src/build/dockerfile.js";
import { cliArgs, duration, freePort, irisModelDir, mebibytes, probePing, spawnNode, waitUntilReady, type Attack } from "./harness.js";

/** 5.7 MiB, under the 6 MiB body limit. */
const bodyBytes = Math.floor(5.7 * 1024 * 1024);
const rounds = [32, 64] as const;
const roundMs = 30_000;
/** BYOC_MAX_IN_FLIGHT_BYTES's default, which the server runs with. */
const maxInFlightBytes = 256 * 1024 * 1024;
/** V8 collects unreachable buffers once this many more bytes of them are outstanding than after its last full collection: per JavaScript thread (docs/memory.md). */
const garbageAllowanceBytes = 64 * 1024 * 1024;
/** The HTTP thread and the one worker. */
const javaScriptThreads = 2;
const pingTargetP99Ms = 200;
const pingLimitMs = 2_000;

const row = "[5.1,3.5,1.4,0.2]";
const head = '{"instances":[';
const tail = "]}";
const rowCount = Math.floor((bodyBytes - head.length - tail.length + 1) / (row.length + 1));

/** `{"instances":[[5.1,3.5,1.4,0.2],...]}`, {@link rowCount} valid iris rows, padded to `bodyBytes`. */
function irisBody(): Buffer {
  return Buffer.from((head + Array.from({ length: rowCount }, () => row).join(",") + tail).padEnd(bodyBytes, " "));
}

interface Round {
  readonly concurrency: number;
  readonly statuses: ReadonlyMap<number, number>;
  readonly errors: number;
  readonly ping: { sent: number; failed: number; p99Ms: number; maxMs: number };
  readonly rssPeakBytes: number;
}

/**
 * The issue's fourth defect: while 32 to 64 concurrent 5.7 MiB JSON bodies were parsed, `/ping`
 * took 4.55 s and 2.17 s (2 runs of 4), past SageMaker's 2 s health check, and peak RSS reached
 * 2.1 GB.
 */
export const attack: Attack = {
  name: "/ping under 32 and 64 concurrent 5.7 MiB JSON bodies",
  description: `Against \`serve\` with the iris model and one worker, default limits, and the malloc setting the generated image has (${Object.entries(allocatorEnvironment).map(([name, value]) => `${name}=${value}`).join(" ")}): ${rounds.join(", then ")} clients each send ${mebibytes(bodyBytes)} JSON bodies of valid rows (${rowCount.toLocaleString("en-US")} rows) one after another for ${roundMs / 1000} s, while a probe sends /ping after /ping. Before the rounds, one body is sent alone; the server's RSS after it is its resting size with one body's working set.`,
  expectation: `every /ping answered 200 under ${pingLimitMs / 1000} s (target: p99 under ${pingTargetP99Ms} ms; the probe shares 2 cores with the server and the load, so its latencies depend on the machine's load); peak RSS under the bound docs/memory.md gives: the RSS after one body, plus BYOC_MAX_IN_FLIGHT_BYTES (${mebibytes(maxInFlightBytes)}, the bodies and answers the memory admission lets in), plus ${mebibytes(garbageAllowanceBytes)} for each of the ${javaScriptThreads} JavaScript threads (garbage V8 lets build up before it collects), since the one worker decodes one body at a time; every body answered 200, or 503/504 when the queue it waits in outlasts the limits`,
  async run({ progress }) {
    const port = await freePort();
    const server = spawnNode([...cliArgs, "serve", "--model-dir", irisModelDir, "--host", "127.0.0.1", "--workers", "1", "--log-level", "warn"], { SAGEMAKER_BIND_TO_PORT: String(port), ...allocatorEnvironment });
    const url = `http://127.0.0.1:${port}`;
    const body = irisBody();
    const send = async (): Promise<number> => {
      const response = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await response.arrayBuffer();
      return response.status;
    };
    try {
      await waitUntilReady(`${url}/ping`, server);
      const readyRssBytes = server.rssPeakBytes();
      const alone = await send();
      if (alone !== 200) throw new Error(`one body alone got ${alone}:\n${server.output()}`);
      await delay(1_000);
      const restingRssBytes = server.rssPeakBytes();
      const bound = restingRssBytes + maxInFlightBytes + javaScriptThreads * garbageAllowanceBytes;

      const results: Round[] = [];
      for (const concurrency of rounds) {
        progress(`${concurrency} clients for ${roundMs / 1000} s`);
        const pings = probePing(url);
        const statuses = new Map<number, number>();
        let errors = 0;
        const ends = performance.now() + roundMs;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (performance.now() < ends) {
              const status = await send().catch(() => 0);
              if (status === 0) errors++;
              else statuses.set(status, (statuses.get(status) ?? 0) + 1);
            }
          }),
        );
        results.push({ concurrency, statuses, errors, ping: await pings.stop(), rssPeakBytes: server.rssPeakBytes() });
      }

      const served = results.reduce((sum, round) => sum + (round.statuses.get(200) ?? 0), 0);
      const unexpected = results.reduce((sum, round) => sum + round.errors + [...round.statuses].filter(([status]) => ![200, 503, 504].includes(status)).reduce((count, [, n]) => count + n, 0), 0);
      const refused = results.reduce((sum, round) => sum + (round.statuses.get(503) ?? 0) + (round.statuses.get(504) ?? 0), 0);
      const pingFailed = results.reduce((sum, round) => sum + round.ping.failed, 0);
      const pingMaxMs = Math.max(...results.map((round) => round.ping.maxMs));
      const pingP99Ms = Math.max(...results.map((round) => round.ping.p99Ms));
      const rssPeakBytes = server.rssPeakBytes();
      const passed = pingFailed === 0 && pingMaxMs < pingLimitMs && rssPeakBytes < bound && unexpected === 0;
      return {
        passed,
        outcome: `/ping p99 ${duration(pingP99Ms)}, max ${duration(pingMaxMs)}, ${pingFailed} failed; peak RSS ${mebibytes(rssPeakBytes)} against a bound of ${mebibytes(bound)}; ${served} bodies answered 200, ${refused} 503/504, ${unexpected} otherwise`,
        figures: { requestsServed: served, failures: unexpected + pingFailed, rssPeakBytes, pingP99Ms, pingMaxMs },
        details: [
          ["body", `${mebibytes(body.length)} of JSON, ${rowCount.toLocaleString("en-US")} iris rows`],
          ["server RSS when ready, after one body alone", `${mebibytes(readyRssBytes)}, ${mebibytes(restingRssBytes)}`],
          ["bound: that, plus BYOC_MAX_IN_FLIGHT_BYTES, plus V8's garbage allowance per JavaScript thread", mebibytes(bound)],
          ...results.flatMap(
            ({ concurrency, statuses, errors, ping, rssPeakBytes: peak }) =>
              [
                [`${concurrency} clients: answers`, `${[...statuses].map(([status, count]) => `${count} × ${status}`).join(", ") || "none"}${errors > 0 ? `, ${errors} connection errors` : ""}`],
                [`${concurrency} clients: /ping`, `${ping.sent} sent, ${ping.failed} failed, p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}`],
                [`${concurrency} clients: server peak RSS so far`, mebibytes(peak)],
              ] as const,
          ),
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
