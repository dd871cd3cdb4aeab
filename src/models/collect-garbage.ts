import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;

/**
 * Runs a full garbage collection in this thread, so that a memory figure taken next does not
 * shrink by what an earlier, unloaded model left behind. Node exposes `gc` only with
 * `--expose-gc`; the flag set at run time applies to contexts made afterwards, hence the new context.
 *
 * @example
 * ```ts
 * collectGarbage();
 * const before = process.memoryUsage();
 * ```
 */
export function collectGarbage(): void {
  if (collect === undefined) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  // Twice: the second collection finishes the sweeping of the first, which frees buffers' memory in the background.
  collect();
  collect();
}
