/**
 * Starts the canonical Python bring-your-own stack from Debian's packages, laid out as AWS's
 * scikit_bring_your_own example lays it out
 * (https://github.com/aws/amazon-sagemaker-examples/tree/main/advanced_functionality/scikit_bring_your_own/container/decision_trees):
 * nginx on the port, one nginx worker, proxying `/ping` and `/invocations` to gunicorn on a Unix
 * socket, gunicorn running the Flask app in bench/python/app.py with one worker process per core.
 *
 * Two departures, both said in the report: gunicorn's default `sync` worker class instead of the
 * example's `gevent` (a CPU-bound handler gains nothing from green threads, and Debian's
 * gunicorn does not pull gevent in), and the access log to /dev/null, where every contender's log goes.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { spawnChild, waitUntilReady, type ChildServer } from "../processes.js";

const nginx = "/usr/sbin/nginx";
const gunicorn = "/usr/bin/gunicorn";

/**
 * How the stack runs, for the report.
 *
 * @example
 * ```ts
 * const settings = pythonStackSettings(); // { gunicornWorkers: 2, ... }
 * ```
 */
export interface PythonStackSettings {
  readonly gunicornWorkers: number;
  readonly workerClass: "sync";
  readonly nginxWorkers: 1;
  /** Environment of each gunicorn worker that sets numpy's BLAS threads. */
  readonly blasThreads: Readonly<Record<string, string>>;
}

/**
 * One gunicorn worker per core, as the example's `serve` script defaults to, each with one BLAS
 * thread: the processes already use every core, as the toolkit's threads do.
 *
 * @example
 * ```ts
 * pythonStackSettings().gunicornWorkers; // 2 on 2 cores
 * ```
 */
export function pythonStackSettings(): PythonStackSettings {
  return {
    gunicornWorkers: availableParallelism(),
    workerClass: "sync",
    nginxWorkers: 1,
    blasThreads: { OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  };
}

/**
 * Starts nginx and gunicorn serving the dense model whose weights are in `weightsDir` (see
 * bench/models/dense-weights.ts) on `port`, and waits until `/ping` answers 200 through nginx.
 *
 * @example
 * ```ts
 * const server = await startPythonStack("bench/results/assets/mlp/numpy", await freePort());
 * ```
 */
export async function startPythonStack(weightsDir: string, port: number): Promise<ChildServer> {
  const settings = pythonStackSettings();
  const dir = mkdtempSync(join(tmpdir(), "bench-python-"));
  // nginx's workers run as the user below; they must reach gunicorn's socket in this directory.
  chmodSync(dir, 0o711);
  const socket = join(dir, "gunicorn.sock");
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConf(dir, socket, port));
  const app = spawnChild(
    gunicorn,
    ["--workers", String(settings.gunicornWorkers), "--worker-class", settings.workerClass, "--bind", `unix:${socket}`, "--timeout", "60", "--chdir", "bench/python", "app:app"],
    // No __pycache__ beside app.py in the working tree.
    { BENCH_MODEL_DIR: weightsDir, PYTHONDONTWRITEBYTECODE: "1", ...settings.blasThreads },
  );
  const proxy = spawnChild(nginx, ["-e", "stderr", "-p", dir, "-c", conf], {});
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    // SIGQUIT: nginx's graceful shutdown; SIGTERM: gunicorn's.
    await Promise.all([proxy.stop("SIGQUIT"), app.stop("SIGTERM")]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(url, [app, proxy]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: app.process.pid ?? 0, pids: [app.process.pid ?? 0, proxy.process.pid ?? 0], stop };
}

/** The example's nginx.conf, with paths in `dir`, logs off and the port and socket given. */
function nginxConf(dir: string, socket: string, port: number): string {
  return `worker_processes 1;
daemon off;
user ${userInfo().username};
pid ${join(dir, "nginx.pid")};
error_log stderr;

events {
}

http {
  default_type application/octet-stream;
  access_log /dev/null combined;
  client_body_temp_path ${join(dir, "client_body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "fastcgi")};
  uwsgi_temp_path ${join(dir, "uwsgi")};
  scgi_temp_path ${join(dir, "scgi")};

  upstream gunicorn {
    server unix:${socket};
  }

  server {
    listen 127.0.0.1:${port} deferred;
    client_max_body_size 6m;

    keepalive_timeout 5;
    proxy_read_timeout 300s;

    location ~ ^/(ping|invocations) {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_pass http://gunicorn;
    }

    location / {
      return 404 "{}";
    }
  }
}
`;
}
