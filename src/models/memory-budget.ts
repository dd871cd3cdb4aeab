import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/** cgroup v2, then v1: the container's memory limit as the kernel enforces it. */
const cgroupLimitFiles = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"];
/** cgroup v1 writes "no limit" as a number near 2^63. */
const unlimited = 2 ** 60;
/** What the budget leaves for the process itself, requests in flight and the kernel's page cache. */
const budgetShare = 0.6;

/**
 * The memory this container may use: its cgroup limit (what SageMaker and Docker enforce), or the
 * machine's memory when there is none.
 *
 * @example
 * ```ts
 * memoryLimitBytes(); // 17179869184 in a 16 GiB container
 * ```
 */
export function memoryLimitBytes(files: readonly string[] = cgroupLimitFiles): number {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8").trim();
    } catch {
      continue;
    }
    const limit = Number(text);
    if (text !== "max" && Number.isFinite(limit) && limit > 0 && limit < unlimited) return Math.min(limit, totalmem());
  }
  return totalmem();
}

/**
 * The default memory budget of a multi-model server: a share of {@link memoryLimitBytes}, so the
 * models loaded together leave room for the server, the requests in flight and the page cache.
 *
 * @example
 * ```ts
 * defaultModelMemoryBudget(); // 10307921510 in a 16 GiB container
 * ```
 */
export function defaultModelMemoryBudget(limit: number = memoryLimitBytes()): number {
  return Math.floor(limit * budgetShare);
}
