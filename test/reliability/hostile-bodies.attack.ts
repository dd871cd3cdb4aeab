import { cliArgs, duration, freePort, irisModelDir, mebibytes, probePing, spawnNode, waitUntilReady, type Attack } from "./harness.js";

const bodyBytes = 5_700_000;
/** CPU time of the server per hostile body: the old .npy path took 65 s; wall time on a shared machine says little. */
const maxAnswerCpuMs = 5_000;
const normalClients = 2;

interface HostileBody {
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** The status the fix answers with. */
  readonly status: number;
}

const text = (value: string): Buffer => Buffer.from(value);
const fill = (unit: string, head = "", tail = ""): Buffer => text(head + unit.repeat(Math.floor((bodyBytes - head.length - tail.length) / unit.length)) + tail);

function npy(dict: string, data: Uint8Array): Buffer {
  const padded = dict + " ".repeat(63 - ((12 + dict.length) % 64)) + "\n";
  const prefix = Buffer.alloc(12);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
  prefix.writeUInt32LE(padded.length, 8);
  return Buffer.concat([prefix, Buffer.from(padded, "latin1"), data]);
}

function hostileBodies(): HostileBody[] {
  const boundary = "b".repeat(70);
  const nearBoundaries = fill(`\r\n--${boundary.slice(0, 69)}x`).subarray(0, bodyBytes - 300);
  return [
    {
      name: "the issue's .npy: Fortran order, shape (2, 1.5M, then 1.4M axes of size 1)",
      contentType: "application/x-npy",
      body: npy(`{'descr': '|u1', 'fortran_order': True, 'shape': (2,1500000${",1".repeat(1_400_000)}), }`, new Uint8Array(3_000_000)),
      status: 400,
    },
    {
      name: ".npy in Fortran order over 64 axes (2^22 elements)",
      contentType: "application/x-npy",
      body: npy(`{'descr': '|u1', 'fortran_order': True, 'shape': (${[...new Array<number>(22).fill(2), ...new Array<number>(42).fill(1)].join(", ")}), }`, new Uint8Array(2 ** 22)),
      status: 400,
    },
    { name: "JSON nested 2.85 million levels deep", contentType: "application/json", body: text(`${"[".repeat(bodyBytes / 2)}${"]".repeat(bodyBytes / 2)}`), status: 400 },
    { name: "JSON numbers ending with 1e400", contentType: "application/json", body: fill("0.5,", "[", "1e400]"), status: 400 },
    { name: "CSV of one column", contentType: "text/csv", body: fill("1\n"), status: 400 },
    { name: "CSV rows ending with inf", contentType: "text/csv", body: fill("5.1,3.5,1.4,0.2\n", "", "5.1,3.5,1.4,inf\n"), status: 400 },
    { name: "JSON Lines of one number each", contentType: "application/jsonlines", body: fill("1\n"), status: 400 },
    {
      name: "multipart file made of near-boundaries (70-character boundary)",
      contentType: `multipart/form-data; boundary=${boundary}`,
      body: Buffer.concat([
        text(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        nearBoundaries,
        text(`\r\n--${boundary}--\r\n`),
      ]),
      status: 400,
    },
  ];
}

/**
 * The decode attacks of the issue: a 5.8 MB Fortran-order .npy that held the only worker for
 * 65 s (13 other requests got 504), and the worst shapes of every other codec at the same size.
 */
export const attack: Attack = {
  name: "hostile bodies: worst-case shapes for every codec at 5.7 MB",
  description:
    "Against `serve` with the iris model and one worker (the default on 2 cores), one after another: the issue's 5.8 MB Fortran-order .npy (shape (2, 1.5M, then 1.4M axes of size 1)) and the worst shape found for each codec at 5.7 MB; meanwhile 2 clients send normal one-row requests and a probe sends /ping after /ping.",
  expectation: `each hostile body answered with its 400 for under ${maxAnswerCpuMs / 1000} s of the server's CPU time; every normal request served; every /ping under 2 s`,
  async run({ progress }) {
    const port = await freePort();
    const server = spawnNode([...cliArgs, "serve", "--model-dir", irisModelDir, "--host", "127.0.0.1", "--workers", "1", "--log-level", "error"], {
      SAGEMAKER_BIND_TO_PORT: String(port),
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(`${url}/ping`, server);
      const pings = probePing(url);
      let running = true;
      let served = 0;
      let failed = 0;
      const normal = Promise.all(
        Array.from({ length: normalClients }, async () => {
          while (running) {
            const response = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: "[[5.1, 3.5, 1.4, 0.2]]" }).catch(() => undefined);
            await response?.arrayBuffer();
            if (response?.status === 200) served++;
            else failed++;
          }
        }),
      );
      const answers: { name: string; bytes: number; status: number; expected: number; ms: number; cpuMs: number; message: string }[] = [];
      for (const { name, contentType, body, status } of hostileBodies()) {
        progress(name);
        const started = performance.now();
        const cpuBefore = server.cpuMs();
        const response = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": contentType }, body });
        const answer = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
        const cpuMs = server.cpuMs() - cpuBefore;
        answers.push({ name, bytes: body.length, status: response.status, expected: status, ms: performance.now() - started, cpuMs, message: answer.error?.message ?? "" });
      }
      running = false;
      await normal;
      const ping = await pings.stop();
      const answeredAsExpected = answers.filter((answer) => answer.status === answer.expected && answer.cpuMs < maxAnswerCpuMs).length;
      const passed = answeredAsExpected === answers.length && failed === 0 && ping.failed === 0 && ping.maxMs < 2_000;
      const slowest = answers.reduce((worst, answer) => (answer.cpuMs > worst.cpuMs ? answer : worst));
      return {
        passed,
        outcome: `${answeredAsExpected} of ${answers.length} hostile bodies answered as expected, the costliest for ${duration(slowest.cpuMs)} of the server's CPU time; ${served} normal requests served, ${failed} failed; /ping max ${duration(ping.maxMs)}`,
        figures: { requestsServed: served + answeredAsExpected, failures: failed + answers.length - answeredAsExpected, rssPeakBytes: server.rssPeakBytes(), pingP99Ms: ping.p99Ms, pingMaxMs: ping.maxMs },
        details: [
          ...answers.map(
            ({ name, bytes, status, ms, cpuMs, message }) =>
              [`${name} (${mebibytes(bytes)})`, `${status} in ${duration(ms)} (server CPU ${duration(cpuMs)}): ${message.length > 140 ? `${message.slice(0, 140)}...` : message}`] as const,
          ),
          ["normal requests during the attack", `${served} served, ${failed} failed`],
          ["/ping during the attack", `${ping.sent} sent, ${ping.failed} failed, p99 ${duration(ping.p99Ms)}, max ${duration(ping.maxMs)}`],
          ["server peak RSS", mebibytes(server.rssPeakBytes())],
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
