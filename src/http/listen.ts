import type { Server } from "node:http";

/**
 * Starts `server` listening; rejects with the bind error (port in use, address not available).
 *
 * @example
 * ```ts
 * await listen(createServer(handler), 8080, "0.0.0.0");
 * ```
 */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
