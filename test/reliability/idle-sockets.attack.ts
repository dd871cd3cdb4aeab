import { fileURLToPath } from "node:url";
import { cliArgs, duration, freePort, irisModelDir, logLine, mebibytes, probePing, spawnNode, waitUntilReady, type Attack } from "./harness.js";

const idleSockets = 20_000;
const holdMs = 15_000;
/** BYOC_MAX_CONNECTIONS's default, which the server runs with. */
const maxConnections = 4096;
const pingLimitMs = 2_000;
const child = fileURLToPath(new URL("./sockets-child.ts", import.meta.url));

interface IdleReport {
  readonly openFileLimit: number;
  readonly tried: number;
  readonly opened: number;
  readonly openMs: number;
  readonly stillOpen: number;
  readonly closedByServer: number;
  readonly dataReceived: number;
  readonly errors: Record<string, number>;
}

interface BusyReport {
  readonly opened: number;
  readonly stillOpen: number;
  readonly answer: string;
  readonly errors: Record<string, number>;
}

/** Runs the sockets child and resolves with the JSON line it prints. */
async function runSocketsChild<Report>(args: readonly string[]): Promise<Report> {
  const sockets = spawnNode(["--import", "tsx", child, ...args], {});
  let report: Report | undefined;
  sockets.onLine((line) => (report ??= logLine(line) as Report | undefined));
  const code = await new Promise<number | null>((resolve) => sockets.child.once("exit", resolve));
  if (code !== 0 || report === undefined) throw new Error(`the sockets child failed (exit ${code}):\n${sockets.output()}`);
  return report;
}

/**
 * The issue's seventh defect: with no cap on connections, 20,000 idle sockets (the open-file
 * limit) made `/ping` fail for about 30 s.
 */
export const attack: Attack = {
  name: "connections: 20,000 idle sockets, then every connection busy",
  description: `Against \`serve\` with the iris model and default limits (BYOC_MAX_CONNECTIONS ${maxConnections}, the machine's open-file limit) except BYOC_MAX_CONCURRENT_REQUESTS raised to 5000: a client process opens ${idleSockets.toLocaleString("en-US")} connections, or as many as its open-file limit allows, sends nothing on them and holds them ${holdMs / 1000} s, while a probe sends /ping after /ping on a connection of its own. Then another opens ${maxConnections} connections each holding a request under way (a POST whose body never comes) and one more connection for GET /ping.`,
  expectation: `every /ping answered 200 under ${pingLimitMs / 1000} s while the idle sockets arrive and are held; the server keeping at most ${maxConnections} of them open, closing the longest idle to make room; with every connection busy, the next one refused with a 503 TOO_MANY_CONNECTIONS, Retry-After and Connection: close, the busy ones left open`,
  async run({ progress }) {
    const port = await freePort();
    const server = spawnNode([...cliArgs, "serve", "--model-dir", irisModelDir, "--host", "127.0.0.1", "--workers", "1", "--log-level", "warn"], {
      SAGEMAKER_BIND_TO_PORT: String(port),
      BYOC_MAX_CONCURRENT_REQUESTS: "5000",
    });
    const url = `http://127.0.0.1:${port}`;
    let capWarnings = 0;
    server.onLine((line) => {
      if (logLine(line)?.["msg"] === "connection refused: too many open connections") capWarnings++;
    });
    try {
      await waitUntilReady(`${url}/ping`, server);
      progress(`opening ${idleSockets} idle sockets`);
      const pings = probePing(url);
      const idle = await runSocketsChild<IdleReport>(["idle", String(port), String(idleSockets), String(holdMs)]);
      const ping = await pings.stop();

      progress(`${maxConnections} busy connections, then one more`);
      const busy = await runSocketsChild<BusyReport>(["busy", String(port), String(maxConnections)]);
      const [head = "", refusalBody = ""] = busy.answer.split("\r\n\r\n");
      const refusal = { status: /^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? "none", retryAfter: /\r\nretry-after: 1\r\n/i.test(head), close: /\r\nconnection: close\r\n/i.test(head), code: "" };
      try {
        refusal.code = (JSON.parse(refusalBody) as { error: { code: string } }).error.code;
      } catch {
        refusal.code = refusalBody.slice(0, 80);
      }
      const refusedClearly = refusal.status === "503" && refusal.retryAfter && refusal.close && refusal.code === "TOO_MANY_CONNECTIONS";
      const idleErrors = Object.entries(idle.errors).filter(([code]) => code !== "ECONNRESET");
      const passed =
        ping.failed === 0 &&
        ping.maxMs < pingLimitMs &&
        idle.stillOpen <= maxConnections &&
        idle.opened === idle.tried &&
        idleErrors.length === 0 &&
        refusedClearly &&
        busy.opened === maxConnections &&
        busy.stillOpen === maxConnections;
      const rssPeakBytes = server.rssPeakBytes();
      return {
        passed,
        outcome: `${idle.opened} idle sockets opened (open-file limit ${idle.openFileLimit}), ${idle.closedByServer} closed by the server to make room, ${idle.stillOpen} held; /ping p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}, ${ping.failed} failed; with ${busy.stillOpen} connections busy the next got ${refusal.status} ${refusal.code}`,
        figures: { requestsServed: ping.sent - ping.failed, failures: ping.failed + (refusedClearly ? 0 : 1), rssPeakBytes, pingP99Ms: ping.p99Ms, pingMaxMs: ping.maxMs },
        details: [
          ["idle sockets asked for, tried (the client's open-file limit less 64 for Node itself)", `${idleSockets}, ${idle.tried} (limit ${idle.openFileLimit})`],
          ["idle sockets opened", `${idle.opened} in ${duration(idle.openMs)}${idleErrors.length > 0 ? `; errors: ${JSON.stringify(idle.errors)}` : ""}`],
          [`after ${holdMs / 1000} s`, `${idle.closedByServer} closed by the server, ${idle.stillOpen} still open, ${idle.dataReceived} received any bytes`],
          ["/ping while they arrived and were held", `${ping.sent} sent, ${ping.failed} failed, p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}`],
          ["busy connections (a request under way on each)", `${busy.opened} opened, ${busy.stillOpen} still open after the refusal`],
          ["the next connection's GET /ping", `${refusal.status}, ${refusal.code}, Retry-After ${refusal.retryAfter ? "1" : "missing"}, Connection: close ${refusal.close ? "sent" : "missing"}`],
          ["the server's cap warnings (one per 1,000 refusals)", String(capWarnings)],
          ["server peak RSS", mebibytes(rssPeakBytes)],
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
