/**
 * Reading what `node --cpu-prof` writes (one `.cpuprofile` per JavaScript thread): self time per
 * function within a time window.
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "./processes.js";

/**
 * The parts of V8's `.cpuprofile` format used here: a call tree, and for each sample the tree
 * node that was running and the µs since the previous sample. Timestamps are µs on the
 * monotonic clock `process.hrtime` reads too.
 *
 * @example
 * ```ts
 * const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
 * ```
 */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * One function's self time.
 *
 * @example
 * ```ts
 * const entry: SelfTime = { name: "parse (node:internal/...:12)", ms: 412.5, share: 0.083 };
 * ```
 */
export interface SelfTime {
  /** Function name and where it is defined. */
  readonly name: string;
  readonly ms: number;
  /** Of the thread's busy time (idle excluded). */
  readonly share: number;
}

/**
 * A thread's profile within a window.
 *
 * @example
 * ```ts
 * const summary: ProfileSummary = { busyMs: 4120, idleMs: 5880, top: [...] };
 * ```
 */
export interface ProfileSummary {
  /** Time in samples other than `(idle)`. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Functions by self time, largest first. */
  readonly top: readonly SelfTime[];
}

/**
 * Self time per function in `profile` for the samples between `fromUs` and `untilUs`
 * (monotonic µs), the `limit` largest.
 *
 * @example
 * ```ts
 * const summary = summarizeProfile(profile, windowStartUs, windowEndUs, 15);
 * ```
 */
export function summarizeProfile(profile: CpuProfile, fromUs: number, untilUs: number, limit: number): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  let timestamp = profile.startTime;
  let idleUs = 0;
  let busyUs = 0;
  profile.samples.forEach((nodeId, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    timestamp += delta;
    if (timestamp < fromUs || timestamp > untilUs) return;
    // A sample's delta is the time since the previous one: charge it to the node now running.
    const frame = frames.get(nodeId);
    const name = frame === undefined ? "(unknown)" : describeFrame(frame);
    if (name === "(idle)") {
      idleUs += delta;
      return;
    }
    busyUs += delta;
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
  });
  const top = [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs === 0 ? 0 : us / busyUs }));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, top };
}

/**
 * `name (where:line)`, with repository paths relative and `node_modules/<package>` kept short.
 *
 * @example
 * ```ts
 * describeFrame({ functionName: "decode", url: "file:///repo/dist/codecs/json.js", lineNumber: 41 }); // "decode (dist/codecs/json.js:42)"
 * ```
 */
export function describeFrame(frame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  let where = frame.url;
  if (where.startsWith("file://")) {
    where = relative(repoRoot, fileURLToPath(where));
    const modules = where.lastIndexOf("node_modules/");
    if (modules >= 0) where = where.slice(modules + "node_modules/".length);
  }
  return `${name} (${where}:${frame.lineNumber + 1})`;
}
