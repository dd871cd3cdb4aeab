import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Where a server listens: the port it got, and a URL that reaches it from this machine.
 *
 * @example
 * ```ts
 * const { url } = await listen(server, 0, "0.0.0.0"); // "http://127.0.0.1:41234"
 * ```
 */
export interface ListeningAddress {
  readonly port: number;
  /** `http://host:port`, with the loopback address when bound to all interfaces. */
  readonly url: string;
}

/**
 * Starts `server` listening; rejects with the bind error (port in use, address not available).
 *
 * @example
 * ```ts
 * const { port, url } = await listen(createServer(handler), 8080, "0.0.0.0");
 * ```
 */
export function listen(server: Server, port: number, host: string): Promise<ListeningAddress> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const bound = (server.address() as AddressInfo).port;
      const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
      resolve({ port: bound, url: `http://${reachable}:${bound}` });
    });
  });
}
