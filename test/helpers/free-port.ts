import { once } from "node:events";
import { createServer } from "node:net";

/**
 * A loopback TCP port nobody listens on right now, for servers the tests start as child processes.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * ```
 */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}
