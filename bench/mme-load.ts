/**
 * The multi-model benchmark's throughput load generator, in a process of its own so that the
 * benchmark's process holds only the gateway and S3, and the CPU each process spends per request
 * can be told apart (bench/mme.bench.ts).
 *
 * `connections` clients send POSTs as fast as answers come back, for `warmUpSeconds` and then
 * `seconds`; request `i` of client `c` goes to `targets[(c + i × connections) mod targets.length]`,
 * so the clients together take the targets in turn (on a multi-model endpoint, each target names
 * another model). They share `connections` keep-alive connections (node:http's agent), whatever
 * the number of targets, so every run holds as many connections to the server.
 *
 * Around the measured run it reads the CPU time of the processes named in `pids` and of itself
 * (bench/process-cpu.ts), at the very moments the run starts and ends. Prints one JSON line, a
 * {@link MmeLoadRun}. Usage: `node --import tsx bench/mme-load.ts '<MmeLoadOptions JSON>'`.
 */
import { Agent, request as httpRequest } from "node:http";
import { cpuSince, snapshotCpu } from "./process-cpu.js";

/**
 * What the load generator is asked to do.
 *
 * @example
 * ```ts
 * const options: MmeLoadOptions = { url: gateway.url, targets: [{ path: "/endpoints/e/invocations", headers: { "x-amzn-sagemaker-target-model": "m0.tar.gz" } }], body, contentType: "application/json", connections: 8, seconds: 3, warmUpSeconds: 1, pids: { gateway: process.pid } };
 * ```
 */
export interface MmeLoadOptions {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The requests, taken in turn: a path and headers each. */
  readonly targets: readonly { readonly path: string; readonly headers?: Readonly<Record<string, string>> }[];
  readonly body: string;
  readonly contentType: string;
  readonly connections: number;
  readonly seconds: number;
  readonly warmUpSeconds: number;
  /** The processes whose CPU time the measured run reports, by name; the load generator adds itself as `load generator`. */
  readonly pids: Readonly<Record<string, number>>;
}

/**
 * What the load generator prints: the measured run's answers and the CPU time each process spent in it.
 *
 * @example
 * ```ts
 * const run: MmeLoadRun = { requests: 4500, errors: 0, seconds: 3.002, requestsPerSecond: 1499, cpuMs: { gateway: 1900, "load generator": 610 }, machineCpuMs: 5800 };
 * ```
 */
export interface MmeLoadRun {
  /** 200 answers in the measured run. */
  readonly requests: number;
  /** Any other answer, or none (warm-up included). */
  readonly errors: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** CPU time (user + system) each process spent during the measured run, by name, in ms. */
  readonly cpuMs: Readonly<Record<string, number>>;
  /** CPU time every process of the machine spent during the measured run, in ms. */
  readonly machineCpuMs: number;
}

/** SageMaker's limit for an answer (docs/sagemaker-contract.md). */
const timeoutMs = 60_000;
export const loadGeneratorName = "load generator";

/** POSTs `body` and resolves with the answer's status once its body has been read; rejects when the connection fails. */
function post(url: URL, agent: Agent, headers: Readonly<Record<string, string>>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", agent, headers, timeout: timeoutMs }, (response) => {
      response.on("data", () => undefined);
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

async function run(options: MmeLoadOptions): Promise<MmeLoadRun> {
  const body = Buffer.from(options.body);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const requests = options.targets.map((target) => ({
    url: new URL(target.path, options.url),
    headers: { "content-type": options.contentType, "content-length": String(body.length), ...target.headers },
  }));
  let errors = 0;
  const drive = async (ms: number): Promise<{ answers: number; seconds: number }> => {
    const started = performance.now();
    const deadline = started + ms;
    let answers = 0;
    await Promise.all(
      Array.from({ length: options.connections }, async (_, client) => {
        for (let index = client; performance.now() < deadline; index += options.connections) {
          const target = requests[index % requests.length] as (typeof requests)[number];
          const status = await post(target.url, agent, target.headers, body).catch(() => 0);
          if (status === 200) answers++;
          else errors++;
        }
      }),
    );
    return { answers, seconds: (performance.now() - started) / 1000 };
  };
  await drive(options.warmUpSeconds * 1000);
  const before = snapshotCpu({ ...options.pids, [loadGeneratorName]: process.pid });
  const measured = await drive(options.seconds * 1000);
  const spent = cpuSince(before);
  agent.destroy();
  return {
    requests: measured.answers,
    errors,
    seconds: measured.seconds,
    requestsPerSecond: measured.answers / measured.seconds,
    cpuMs: spent.processMs,
    machineCpuMs: spent.machineMs,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await run(JSON.parse(process.argv[2] ?? "{}") as MmeLoadOptions)));
}
