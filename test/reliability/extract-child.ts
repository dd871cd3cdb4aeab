/**
 * Run as a child process by the archive attacks: extracts the archive given as the first argument
 * into the directory given as the second with the default limits, as the server does at start-up,
 * and prints one JSON line: the outcome, the time it took (wall and CPU, user and system) and the
 * bytes this process read and wrote through system calls (/proc/self/io).
 */
import { readFileSync } from "node:fs";
import { extractModelArchive } from "../../src/models/artifacts/model-archive.js";

const [archive, destination] = process.argv.slice(2) as [string, string];
const io = (): { read: number; written: number } => {
  const text = readFileSync("/proc/self/io", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1]);
  return { read: field("rchar"), written: field("wchar") };
};
const before = io();
const started = performance.now();
const cpuStarted = process.cpuUsage();
let error: string | undefined;
let entries: number | undefined;
try {
  ({ entries } = await extractModelArchive(archive, destination));
} catch (caught) {
  error = caught instanceof Error ? caught.message : String(caught);
}
const after = io();
const cpu = process.cpuUsage(cpuStarted);
console.log(JSON.stringify({ error, entries, ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000, bytesRead: after.read - before.read, bytesWritten: after.written - before.written }));
