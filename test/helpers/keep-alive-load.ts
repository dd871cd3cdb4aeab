/**
 * Clients that send one request after another on keep-alive connections until the server stops
 * taking them, counting the answers, those after a mark (a SIGTERM), those that said
 * `Connection: close`, and the client errors by code.
 */
import { Agent, request } from "node:http";

export interface KeepAliveLoad {
  /** Answers received in full. */
  readonly answered: number;
  /** Answers received after {@link KeepAliveLoad.mark}. */
  readonly answeredAfterMark: number;
  /** Answers that said `Connection: close`, all of them and after the mark. */
  readonly closing: number;
  readonly closingAfterMark: number;
  /** Client errors, by code (`ECONNREFUSED`...). */
  readonly errors: ReadonlyMap<string, number>;
  /** Resolves once every client has stopped (the server stopped taking its requests). */
  readonly stopped: Promise<void>;
  /** From now on, answers count as after the mark. */
  mark(): void;
  /** Closes the clients' connections. */
  close(): void;
}

/**
 * Starts `clients` clients POSTing `body` as JSON to `/invocations` on `port`.
 *
 * @example
 * ```ts
 * const load = startKeepAliveLoad(port, 16, JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }));
 * load.mark();
 * server.kill("SIGTERM");
 * await load.stopped;
 * ```
 */
export function startKeepAliveLoad(port: number, clients: number, body: string): KeepAliveLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const errors = new Map<string, number>();
  let marked = false;
  const counts = { answered: 0, answeredAfterMark: 0, closing: 0, closingAfterMark: 0 };
  const send = (): Promise<boolean> =>
    new Promise((resolve) => {
      const outgoing = request(
        { host: "127.0.0.1", port, path: "/invocations", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on("end", () => {
            const closing = response.headers.connection === "close";
            counts.answered++;
            if (closing) counts.closing++;
            if (marked) {
              counts.answeredAfterMark++;
              if (closing) counts.closingAfterMark++;
            }
            resolve(true);
          });
        },
      );
      outgoing.on("error", (error: NodeJS.ErrnoException) => {
        const code = error.code ?? error.message;
        errors.set(code, (errors.get(code) ?? 0) + 1);
        resolve(false);
      });
      outgoing.end(body);
    });
  // Each client sends until the server stops taking its requests.
  const stopped = Promise.all(
    Array.from({ length: clients }, async () => {
      while (await send());
    }),
  ).then(() => undefined);
  return {
    get answered() {
      return counts.answered;
    },
    get answeredAfterMark() {
      return counts.answeredAfterMark;
    },
    get closing() {
      return counts.closing;
    },
    get closingAfterMark() {
      return counts.closingAfterMark;
    },
    errors,
    stopped,
    mark: () => (marked = true),
    close: () => agent.destroy(),
  };
}
