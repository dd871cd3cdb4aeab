import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { startKeepAliveLoad } from "../helpers/keep-alive-load.js";
import { cliArgs, duration, freePort, irisModelDir, logLine, mebibytes, spawnNode, waitUntilReady, type Attack } from "./harness.js";

const clients = 16;
const idleConnections = 16;
const loadMs = 10_000;
/** BYOC_SHUTDOWN_TIMEOUT_SECONDS's default, which the server runs with. */
const shutdownLimitMs = 25_000;
/** "Well before the limit": draining 16 one-row requests takes milliseconds; 5 s leaves room for a loaded machine. */
const maxExitMs = 5_000;
const body = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });

/** Opens a keep-alive connection, sends one request on it and leaves it idle; resolves once the answer is in. */
async function idleConnection(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(`GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await once(socket, "data");
  return socket;
}

/**
 * The first defect: with 16 keep-alive clients flooding `/invocations`, SIGTERM did not
 * end the connections (183,390 requests were served after it, none with `Connection: close`),
 * and at the 25 s limit 16 requests in flight were dropped (15 resets, 1 empty reply).
 */
export const attack: Attack = {
  name: "SIGTERM under load from 16 keep-alive clients",
  description: `Against \`serve\` with the iris model and one worker: ${clients} keep-alive clients send one-row requests to /invocations one after another for ${loadMs / 1000} s, then ${idleConnections} keep-alive connections are opened and left idle after one request; then SIGTERM, with the default shutdown limit of ${shutdownLimitMs / 1000} s. The server's request log says which requests it took and which it answered after it began to drain.`,
  expectation: `every request the server logged reached its client; after the drain began at most two answers per client connection: the request it had in flight, then its next one, answered with \`Connection: close\`; every idle connection closed by the server; exit code 0 within ${maxExitMs / 1000} s of SIGTERM (the load runs on the same 2 cores as the server, so the exit time depends on the machine's load)`,
  async run({ progress }) {
    const port = await freePort();
    const server = spawnNode([...cliArgs, "serve", "--model-dir", irisModelDir, "--host", "127.0.0.1", "--workers", "1"], { SAGEMAKER_BIND_TO_PORT: String(port) });
    let logged = 0;
    let loggedAfterDrain = 0;
    let draining = false;
    let stoppedLogged = false;
    let limitHit = false;
    server.onLine((line) => {
      const message = logLine(line)?.["msg"];
      if (message === "invocation") {
        logged++;
        if (draining) loggedAfterDrain++;
      } else if (message === "shutting down: draining in-flight requests") draining = true;
      else if (message === "stopped") stoppedLogged = true;
      else if (message === "shutdown timeout: closing the remaining connections") limitHit = true;
    });
    const exited = once(server.child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await waitUntilReady(`http://127.0.0.1:${port}/ping`, server);
      let sigtermAt = Number.POSITIVE_INFINITY;

      const load = startKeepAliveLoad(port, clients, body);
      progress(`${clients} clients for ${loadMs / 1000} s`);
      await delay(loadMs);
      // Opened last: Node closes a keep-alive connection idle for 5 s by itself.
      const idle = await Promise.all(Array.from({ length: idleConnections }, () => idleConnection(port)));
      const idleClosedAfterMs: number[] = [];
      for (const socket of idle) {
        socket.on("error", () => undefined);
        socket.once("close", () => idleClosedAfterMs.push(performance.now() - sigtermAt));
      }
      const answeredBeforeSigterm = load.answered;
      // /proc/<pid> goes with the process: the peak is read just before the signal.
      const rssPeakBytes = server.rssPeakBytes();
      sigtermAt = performance.now();
      load.mark();
      server.child.kill("SIGTERM");
      const [code, signal] = await exited;
      const exitMs = performance.now() - sigtermAt;
      await Promise.race([load.stopped, delay(10_000)]);
      load.close();
      for (const socket of idle) socket.destroy();

      const dropped = logged - load.answered;
      const otherErrors = [...load.errors].filter(([errorCode]) => errorCode !== "ECONNREFUSED" && errorCode !== "ECONNRESET");
      const idleClosed = idleClosedAfterMs.filter((ms) => ms >= 0 && ms <= exitMs).length;
      const passed =
        code === 0 &&
        signal === null &&
        exitMs < maxExitMs &&
        !limitHit &&
        stoppedLogged &&
        dropped === 0 &&
        otherErrors.length === 0 &&
        loggedAfterDrain <= 2 * clients &&
        idleClosed === idleConnections;
      const errorList = [...load.errors].map(([errorCode, count]) => `${count} ${errorCode}`).join(", ") || "none";
      return {
        passed,
        outcome: `exit code ${code ?? signal} ${duration(exitMs)} after SIGTERM; ${loggedAfterDrain} requests answered after the drain began, ${dropped} dropped; ${idleClosed} of ${idleConnections} idle connections closed`,
        figures: { requestsServed: load.answered, failures: dropped + otherErrors.reduce((sum, [, count]) => sum + count, 0), rssPeakBytes },
        details: [
          ["requests answered before SIGTERM", `${answeredBeforeSigterm} (${Math.round((answeredBeforeSigterm / loadMs) * 1000)}/s)`],
          ["answered after SIGTERM (clients' count, includes those the server answered before its signal handler ran)", `${load.answeredAfterMark}, ${load.closingAfterMark} of them with Connection: close (those without it were under way when the drain began)`],
          ["answered after the server began to drain (its request log)", `${loggedAfterDrain} (at most ${2 * clients}: per client connection, the request under way and the next, told Connection: close)`],
          ["requests logged by the server, answers received", `${logged}, ${load.answered}: ${dropped} dropped`],
          ["client errors once the server stopped taking requests", `${errorList} (refused: the listener closed; reset: a request sent on a keep-alive connection the server had just closed between two requests, as the drain does with idle ones)`],
          ["idle keep-alive connections closed by the server before it exited", `${idleClosed} of ${idleConnections}, the last ${duration(Math.max(0, ...idleClosedAfterMs))} after SIGTERM`],
          ["exit", `code ${code ?? signal}, ${duration(exitMs)} after SIGTERM (limit ${shutdownLimitMs / 1000} s${limitHit ? ", hit" : ", not hit"})`],
          ["server peak RSS (before SIGTERM)", mebibytes(rssPeakBytes)],
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
