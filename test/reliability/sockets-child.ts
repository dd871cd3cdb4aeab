/**
 * Run as a child process by the connection attack, so its thousands of sockets count against its
 * own open-file limit rather than the runner's (whose /ping probe needs file descriptors too).
 *
 * `idle <port> <count> <holdMs>`: opens up to `count` connections to 127.0.0.1:<port> (fewer when
 * this process's open-file limit is lower), sends nothing, holds them for `holdMs`, and prints
 * one JSON line: how many it opened, how many the server closed, what else happened.
 *
 * `busy <port> <count>`: opens `count` connections, each sending the head of a POST
 * /invocations whose 1-byte body never comes, so every one holds a request under way; then opens
 * one more, sends GET /ping on it, and prints one JSON line with that answer and how many of
 * the busy connections are still open.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

const [mode, portText, countText, holdText] = process.argv.slice(2) as [string, string, string, string | undefined];
const port = Number(portText);
/** File descriptors left for Node itself (its event loop, pipes, the module loader). */
const reservedDescriptors = 64;
const connectConcurrency = 256;

const openFileLimit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 1024);
const count = Math.min(Number(countText), openFileLimit - reservedDescriptors);
const sockets: Socket[] = [];
const errors = new Map<string, number>();
let closedByServer = 0;
let dataReceived = 0;
let ours = false;

async function open(first?: string): Promise<Socket | undefined> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", (error: NodeJS.ErrnoException) => {
    const code = error.code ?? error.message;
    errors.set(code, (errors.get(code) ?? 0) + 1);
  });
  socket.on("data", () => dataReceived++);
  socket.on("close", () => {
    if (!ours) closedByServer++;
  });
  const connected = await Promise.race([once(socket, "connect").then(() => true), once(socket, "close").then(() => false)]);
  if (!connected) return undefined;
  if (first !== undefined) socket.write(first);
  sockets.push(socket);
  return socket;
}

async function openMany(total: number, first?: string): Promise<number> {
  let next = 0;
  let opened = 0;
  await Promise.all(
    Array.from({ length: connectConcurrency }, async () => {
      while (next < total) {
        next++;
        if ((await open(first)) !== undefined) opened++;
      }
    }),
  );
  return opened;
}

const started = performance.now();
if (mode === "idle") {
  const opened = await openMany(count);
  const openMs = performance.now() - started;
  await delay(Number(holdText));
  const stillOpen = sockets.filter((socket) => !socket.destroyed).length;
  console.log(JSON.stringify({ openFileLimit, asked: Number(countText), tried: count, opened, openMs, stillOpen, closedByServer, dataReceived, errors: Object.fromEntries(errors) }));
} else {
  const head = "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n";
  const opened = await openMany(count, head);
  // Let the server parse every head, so each connection counts as busy.
  await delay(2_000);
  const extra = await open("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  let answer = "";
  if (extra !== undefined) {
    extra.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
    await Promise.race([once(extra, "close"), delay(5_000)]);
  }
  const stillOpen = sockets.filter((socket) => socket !== extra && !socket.destroyed).length;
  console.log(JSON.stringify({ openFileLimit, opened, stillOpen, answer, errors: Object.fromEntries(errors) }));
}
ours = true;
for (const socket of sockets) socket.destroy();
