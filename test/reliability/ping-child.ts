/**
 * Run as a child process by {@link probePing}: the /ping probe gets an event loop of its own, so
 * what it measures is the server's answer, not the attack's clients in the runner (uploading and
 * reading hundreds of MiB at once, they held the runner's event loop for seconds, and a ping's
 * 2 s timeout fired only after 5).
 *
 * `<url> <intervalMs>`: sends `GET <url>/ping` one at a time, `intervalMs` apart, until its
 * stdin closes; then prints one JSON line: every latency in ms, and how many pings failed.
 */
import { setTimeout as delay } from "node:timers/promises";

const [url, intervalText] = process.argv.slice(2) as [string, string];
const timeoutMs = 2_000;
const latencies: number[] = [];
let failed = 0;
let running = true;
process.stdin.on("close", () => (running = false)).resume();

while (running) {
  const started = performance.now();
  const ok = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    async (response) => {
      await response.arrayBuffer();
      return response.status === 200;
    },
    () => false,
  );
  latencies.push(performance.now() - started);
  if (!ok) failed++;
  await delay(Number(intervalText));
}
process.stdout.write(`${JSON.stringify({ latencies, failed })}\n`);
