import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ContainerClient } from "../../src/batch/container-client.js";
import { runTransformJob, type JobDependencies, type JobSummary } from "../../src/batch/job-runner.js";
import { resolveTransformJob, type TransformJobRequest } from "../../src/batch/job.js";
import type { JobObserver } from "../../src/batch/progress.js";
import type { RunningServer } from "../../src/server.js";
import type { FixtureEvent, FixtureEvents } from "../helpers/fixture-events.js";

/** The handlers file that echoes records and misbehaves on request (fixtures/batch-records.ts). */
export const recordsFixture = fileURLToPath(new URL("./fixtures/batch-records.ts", import.meta.url));

/** Retries a few milliseconds apart, so tests of retries do not wait SageMaker-like seconds. */
export const quickBackoff = { baseMs: 5, maxMs: 20, random: () => 0.5 };

/** A new temporary folder; `cleanUp` removes every folder made so far. */
export async function tempDir(prefix = "byoc-transform-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
const made: string[] = [];

export async function cleanUp(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Writes `files` (relative path → content) under `dir`. */
export async function writeFiles(dir: string, files: Readonly<Record<string, string | Buffer>>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, ...name.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

/** Every file under `dir` (relative path with `/` → content as text), partial ones included. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    tree[relative(dir, path).split(sep).join("/")] = await readFile(path, "utf8");
  }
  return tree;
}

/** What an observer saw, in order. */
export interface Observed extends JobObserver {
  readonly retries: string[];
  readonly failures: string[];
  readonly done: string[];
}

export function observe(extra: Partial<JobObserver> = {}): Observed {
  const retries: string[] = [];
  const failures: string[] = [];
  const done: string[] = [];
  return {
    retries,
    failures,
    done,
    started: (plan) => extra.started?.(plan),
    bytesRead: () => undefined,
    batchDone: () => undefined,
    fileDone: (location, records) => {
      done.push(location);
      extra.fileDone?.(location, records);
    },
    fileFailed: (location, message) => failures.push(`${location}: ${message}`),
    retrying: (location, reason) => retries.push(`${location}: ${reason}`),
  };
}

/** Runs a job against `server` (or a container URL) with test-friendly retries. */
export async function runJob(request: TransformJobRequest, target: RunningServer | string, dependencies: Partial<JobDependencies> = {}): Promise<JobSummary> {
  const container = new ContainerClient(typeof target === "string" ? target : target.url);
  try {
    return await runTransformJob(resolveTransformJob(request), { container, backoff: quickBackoff, ...dependencies });
  } finally {
    container.close();
  }
}

/** The `batch` events the records fixture reported since `from` (an index into `events.events`). */
export function batchesSince(fixtures: FixtureEvents, from: number): FixtureEvent[] {
  return fixtures.events.slice(from).filter((event) => event.event === "batch");
}
