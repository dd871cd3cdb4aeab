import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";
import { cliArgs, duration, freePort, irisModelDir, logLine, mebibytes, probePing, spawnNode, waitUntilReady, type Attack } from "./harness.js";

const handlers = fileURLToPath(new URL("../fixtures/handlers/misbehaviours.ts", import.meta.url));
const clients = 4;
const crashes = 20;
const neverSettling = 8;
const droppedRejections = 200;
/** The time limit the server runs with (--timeout), short so the never-settling requests end within the attack. */
const timeoutSeconds = 5;
/** BYOC_WORKER_RECYCLE_SECONDS's default: how long the abandoned requests may linger before the worker is probed. */
const recycleMs = 5_000;
const pingLimitMs = 2_000;
/** Longer than the server's log batching (src/logger.ts) takes to write a line, with room for a loaded machine. */
const logLinesArriveMs = 2_000;

interface Answer {
  readonly status: number;
  readonly threadId: number | undefined;
  readonly message: string;
}

/**
 * The sixth defect: with one worker (the default on 2 cores), every worker crash turned
 * `/ping` and new requests into 503 for about 1.5 s; a promise that never settled got the healthy
 * worker killed; an unhandled rejection in a handler crashed the worker with every request on it.
 */
export const attack: Attack = {
  name: "worker crashes with the default single worker",
  description: `Against \`serve\` with one worker and a handlers file that misbehaves on demand (test/fixtures/handlers/misbehaviours.ts), time limit ${timeoutSeconds} s: while ${clients} clients send well-behaved requests one after another and a probe sends /ping after /ping, ${crashes} requests each crash the worker (an exception thrown in a callback), the next sent once the one before is answered; then ${neverSettling} requests whose handler awaits a promise that never settles; then ${droppedRejections} requests whose handler leaves a rejected promise unhandled.`,
  expectation: `/ping 200 under ${pingLimitMs / 1000} s throughout; each crashing request answered 500 and replaced by a new worker thread; the well-behaved requests answered 200, except those under way on the worker as it crashed (500, naming the stopped worker); each never-settling request answered 504 at the time limit, the worker probed ${recycleMs / 1000} s later and kept; each unhandled rejection logged, its request and the others answered 200 by the same worker`,
  async run({ progress }) {
    const port = await freePort();
    const server = spawnNode([...cliArgs, "serve", "--handlers", handlers, "--model-dir", irisModelDir, "--host", "127.0.0.1", "--workers", "1", "--timeout", String(timeoutSeconds)], {
      SAGEMAKER_BIND_TO_PORT: String(port),
    });
    const url = `http://127.0.0.1:${port}`;
    const logged = new Map<string, number>();
    server.onLine((line) => {
      const message = logLine(line)?.["msg"];
      if (typeof message === "string") logged.set(message, (logged.get(message) ?? 0) + 1);
    });
    const count = (fragment: string): number => [...logged].filter(([message]) => message.includes(fragment)).reduce((sum, [, n]) => sum + n, 0);
    const call = async (behaviour: string): Promise<Answer> => {
      const response = await fetch(`${url}/invocations`, { method: "POST", body: "x", headers: { "content-type": "text/plain", "x-amzn-sagemaker-custom-attributes": behaviour } });
      const answer = (await response.json().catch(() => ({}))) as { threadId?: number; error?: { message?: string } };
      return { status: response.status, threadId: answer.threadId, message: answer.error?.message ?? "" };
    };
    try {
      await waitUntilReady(`${url}/ping`, server);
      const pings = probePing(url);
      let running = true;
      const normal: Answer[] = [];
      const load = Promise.all(
        Array.from({ length: clients }, async () => {
          while (running) normal.push(await call("whoami").catch((error: unknown) => ({ status: 0, threadId: undefined, message: String(error) })));
        }),
      );

      progress(`${crashes} crashes`);
      const crashAnswers: Answer[] = [];
      for (let crash = 0; crash < crashes; crash++) crashAnswers.push(await call("crash"));
      const normalDuringCrashes = normal.length;
      const afterCrashes = await call("whoami");

      progress(`${neverSettling} never-settling requests`);
      const neverAnswers = await Promise.all(Array.from({ length: neverSettling }, () => call("never-settle")));
      // The probe comes recycleMs after the first abandoned request; a little more for it to answer.
      await delay(recycleMs + 2_000);
      const afterNeverSettling = await call("whoami");

      progress(`${droppedRejections} unhandled rejections`);
      const rejectionAnswers = await Promise.all(Array.from({ length: droppedRejections }, () => call("drop-rejection")));
      const afterRejections = await call("whoami");
      running = false;
      await load;
      const ping = await pings.stop();
      // The server writes its log lines in batches, up to 100 ms after the event: give the last ones time to arrive.
      for (const ends = performance.now() + logLinesArriveMs; count("promise rejection unhandled") < droppedRejections && performance.now() < ends; ) await delay(50);
      const rssPeakBytes = server.rssPeakBytes();

      const threads = new Set(normal.map((answer) => answer.threadId).filter((threadId) => threadId !== undefined));
      const crashesAnswered500 = crashAnswers.filter((answer) => answer.status === 500).length;
      const normalServed = normal.filter((answer) => answer.status === 200).length;
      const lostWithWorker = normal.filter((answer) => answer.status === 500 && /Inference worker \d+ stopped/.test(answer.message)).length;
      const normalOtherwise = normal.length - normalServed - lostWithWorker;
      const neverTimedOut = neverAnswers.filter((answer) => answer.status === 504).length;
      const workerKept = afterNeverSettling.threadId === afterCrashes.threadId && count("the worker keeps serving") > 0 && count("worker blocked by an abandoned request") === 0;
      const rejectionsServed = rejectionAnswers.filter((answer) => answer.status === 200 && answer.threadId === afterNeverSettling.threadId).length;
      const rejectionsLogged = count("promise rejection unhandled");
      const sameWorkerAfterRejections = afterRejections.threadId === afterNeverSettling.threadId;
      const replacements = count("replacement worker loaded its models");
      const passed =
        ping.failed === 0 &&
        ping.maxMs < pingLimitMs &&
        crashesAnswered500 === crashes &&
        replacements === crashes &&
        normalOtherwise === 0 &&
        afterCrashes.status === 200 &&
        neverTimedOut === neverSettling &&
        workerKept &&
        rejectionsServed === droppedRejections &&
        rejectionsLogged === droppedRejections &&
        sameWorkerAfterRejections;
      return {
        passed,
        outcome: `${crashes} crashes, ${replacements} replacements; /ping p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}, ${ping.failed} failed; ${normalServed} well-behaved requests served, ${lostWithWorker} lost with a crashed worker, ${normalOtherwise} failed otherwise; the never-settling requests ${workerKept ? "left the worker serving" : "cost the worker"}; ${rejectionsServed} of ${droppedRejections} unhandled rejections answered 200 by the same worker`,
        figures: { requestsServed: normalServed + rejectionsServed + neverTimedOut, failures: normalOtherwise + ping.failed + (droppedRejections - rejectionsServed), rssPeakBytes, pingP99Ms: ping.p99Ms, pingMaxMs: ping.maxMs },
        details: [
          ["crashing requests", `${crashes} sent, ${crashesAnswered500} answered 500; ${replacements} replacement workers loaded`],
          ["well-behaved requests answered while the crashes went on", String(normalDuringCrashes)],
          ["well-behaved requests in all", `${normal.length}: ${normalServed} × 200 by ${threads.size} worker threads, ${lostWithWorker} × 500 under way on a worker as it crashed, ${normalOtherwise} otherwise`],
          ["/ping throughout", `${ping.sent} sent, ${ping.failed} failed, p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}`],
          ["never-settling requests", `${neverSettling} sent, ${neverTimedOut} × 504 at ${timeoutSeconds} s; worker thread ${afterCrashes.threadId ?? "?"} before, ${afterNeverSettling.threadId ?? "?"} after; probe kept it: ${count("the worker keeps serving") > 0 ? "yes" : "no"}, replaced as blocked: ${count("worker blocked by an abandoned request") > 0 ? "yes" : "no"}`],
          ["requests leaving a rejection unhandled", `${droppedRejections} sent, ${rejectionsServed} × 200 by the same worker, ${rejectionsLogged} logged; the worker after them: thread ${afterRejections.threadId ?? "?"}`],
          ["server peak RSS", mebibytes(rssPeakBytes)],
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
