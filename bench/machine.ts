/**
 * Where the benchmark ran and with which versions of everything it measured.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, release } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./processes.js";

/**
 * The machine and the software versions.
 *
 * @example
 * ```ts
 * const machine: Machine = describeMachine(loadavg()[0]);
 * machine.cores; // 2
 * machine.loadAverage; // 0.4 on a quiet machine
 * ```
 */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly os: string;
  readonly node: string;
  readonly onnxruntimeNode: string;
  /** Versions of the Python contender's parts, or why they could not be read. */
  readonly python: string;
  /** The 1-minute load average when the run started: above the core count, other work competed for the CPU. */
  readonly loadAverage: number;
}

/**
 * Reads the CPU model from /proc/cpuinfo, the core count Node sees, and the versions;
 * `loadAverage` is the 1-minute load average the caller read before its run began.
 *
 * @example
 * ```ts
 * describeMachine(loadavg()[0]).onnxruntimeNode; // "1.30.0"
 * ```
 */
export function describeMachine(loadAverage: number): Machine {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
  const ort = JSON.parse(readFileSync(join(repoRoot, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string };
  return {
    cpu,
    cores: availableParallelism(),
    os: `${process.platform} ${release()}`,
    node: process.version,
    onnxruntimeNode: ort.version,
    python: pythonVersions(),
    loadAverage,
  };
}

function pythonVersions(): string {
  const script =
    "import sys, importlib.metadata as m; " +
    "print(f\"Python {sys.version.split()[0]}, numpy {m.version('numpy')}, Flask {m.version('flask')}, gunicorn {m.version('gunicorn')}\")";
  const python = spawnSync("/usr/bin/python3", ["-c", script], { encoding: "utf8" });
  const nginx = spawnSync("/usr/sbin/nginx", ["-v"], { encoding: "utf8" });
  if (python.status !== 0 || nginx.status !== 0) return "not installed (sh scripts/install-bench-deps.sh)";
  const nginxVersion = /nginx\/([\d.]+)/.exec(nginx.stderr)?.[1] ?? "?";
  return `${python.stdout.trim()}, nginx ${nginxVersion}`;
}
