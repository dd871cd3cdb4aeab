/**
 * Where a benchmark ran and with which versions.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, release } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./processes.js";

/**
 * The machine and the versions of Node and onnxruntime-node.
 *
 * @example
 * ```ts
 * const machine: Machine = describeMachine();
 * machine.cores; // 2
 * ```
 */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly os: string;
  readonly node: string;
  readonly onnxruntimeNode: string;
}

/**
 * Reads the CPU model from /proc/cpuinfo, the core count Node sees, and the versions.
 *
 * @example
 * ```ts
 * describeMachine().onnxruntimeNode; // "1.30.0"
 * ```
 */
export function describeMachine(): Machine {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
  const ort = JSON.parse(readFileSync(join(repoRoot, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string };
  return {
    cpu,
    cores: availableParallelism(),
    os: `${process.platform} ${release()}`,
    node: process.version,
    onnxruntimeNode: ort.version,
  };
}

/**
 * The versions of the Python contender's parts (Debian's python3, numpy, Flask, gunicorn,
 * nginx), or a note that they are not installed.
 *
 * @example
 * ```ts
 * pythonStackVersions(); // "Python 3.11.2, numpy 1.24.2, Flask 2.2.2, gunicorn 20.1.0, nginx 1.22.1"
 * ```
 */
export function pythonStackVersions(): string {
  const script =
    "import sys, importlib.metadata as m; " +
    "print(f\"Python {sys.version.split()[0]}, numpy {m.version('numpy')}, Flask {m.version('flask')}, gunicorn {m.version('gunicorn')}\")";
  const python = spawnSync("/usr/bin/python3", ["-c", script], { encoding: "utf8" });
  const nginx = spawnSync("/usr/sbin/nginx", ["-v"], { encoding: "utf8" });
  if (python.status !== 0 || nginx.status !== 0) return "not installed (sh scripts/install-bench-deps.sh)";
  const nginxVersion = /nginx\/([\d.]+)/.exec(nginx.stderr)?.[1] ?? "?";
  return `${python.stdout.trim()}, nginx ${nginxVersion}`;
}

/**
 * The machine's 1-minute load average at the start and end of a run, and what the start says.
 * The end counts the run's own processes, so only a start above half the cores means other work
 * was using the CPU and the figures are noisy.
 *
 * @example
 * ```ts
 * describeLoadAverage(0.1, 2.4, 2); // "1-minute load average 0.1 at the start, 2.4 at the end (the run's own processes count in it)"
 * ```
 */
export function describeLoadAverage(start: number, end: number, cores: number): string {
  const figures = `1-minute load average ${start.toFixed(1)} at the start, ${end.toFixed(1)} at the end (the run's own processes count in it)`;
  return start > cores / 2 ? `${figures}: **other work was using the CPU, so these figures are noisy**` : figures;
}
