import { readdir, readFile } from "node:fs/promises";

/**
 * One process below another, as Linux's /proc shows it.
 *
 * @example
 * ```ts
 * const entry: ProcessEntry = { pid: 4242, parent: 4240, argv: ["/usr/local/bin/node", "/opt/program/node_modules/sagemaker-byoc-node/dist/cli.js", "serve"] };
 * ```
 */
export interface ProcessEntry {
  readonly pid: number;
  readonly parent: number;
  readonly argv: readonly string[];
}

/**
 * Every process below `pid`, parents before their children, read from /proc (Linux, where
 * buildah runs). Processes that end while the tree is read are left out.
 *
 * @example
 * ```ts
 * const tree = await descendantProcesses(child.pid);
 * ```
 */
export async function descendantProcesses(pid: number): Promise<ProcessEntry[]> {
  const children = new Map<number, ProcessEntry[]>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // The command name in parentheses may hold spaces and parentheses: the fields after the last ")" are fixed.
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (stat === "" || !Number.isInteger(parent)) continue;
    const entry = { pid: Number(name), parent, argv: cmdline.split("\0").filter((arg) => arg !== "") };
    children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const found: ProcessEntry[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}
