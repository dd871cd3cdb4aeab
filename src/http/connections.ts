import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";

const refusal = JSON.stringify({ error: { code: "TOO_MANY_CONNECTIONS", message: "The server holds its maximum of open connections; retry shortly" } });
const refusalResponse =
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n" +
  `Content-Length: ${Buffer.byteLength(refusal)}\r\n\r\n${refusal}`;

/**
 * The connections of one HTTP server: a cap, and graceful draining.
 *
 * Cap: past `maxConnections`, the connection idle the longest (between requests, or never used)
 * is closed to make room, so a flood of idle sockets cannot lock out SageMaker's health check; when
 * every connection is busy with a request, the new one gets a 503 and is closed. Without a cap, idle sockets pile up to the open-file limit
 * and then no connection at all is accepted, `/ping` included.
 *
 * Draining (SIGTERM): the server stops accepting, closes idle keep-alive connections, and every
 * answer from then on carries `Connection: close`, so clients stop reusing connections while the
 * requests already started finish.
 *
 * @example
 * ```ts
 * const connections = new Connections(server, { maxConnections: 4096, log });
 * // in the request listener:
 * connections.prepare(request, response);
 * // on SIGTERM:
 * await connections.drain(25_000);
 * ```
 */
export class Connections {
  readonly #server: Server;
  readonly #maxConnections: number;
  readonly #log: Logger;
  readonly #open = new Set<Socket>();
  /** Open sockets not serving a request, the longest idle first. */
  readonly #idle = new Set<Socket>();
  #draining = false;
  #refused = 0;

  constructor(server: Server, options: { readonly maxConnections: number; readonly log: Logger }) {
    this.#server = server;
    this.#maxConnections = options.maxConnections;
    this.#log = options.log;
    server.on("connection", (socket: Socket) => this.#accept(socket));
  }

  /** Connections open now. */
  get open(): number {
    return this.#open.size;
  }

  /** True once {@link Connections.drain} began. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Notes that the request's connection is busy until its answer is sent, and marks the answer
   * `Connection: close` while draining. Call it first thing for every request.
   */
  prepare(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket;
    this.#idle.delete(socket);
    response.once("finish", () => {
      if (this.#open.has(socket)) this.#idle.add(socket);
    });
    if (this.#draining) response.setHeader("connection", "close");
  }

  /**
   * Stops accepting, closes idle connections, and resolves once every connection has closed or
   * `timeoutMs` passed (then the rest are closed by force).
   */
  drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        this.#log.warn({ open: this.#open.size }, "shutdown timeout: closing the remaining connections");
        this.#server.closeAllConnections();
      }, timeoutMs);
      this.#server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }

  #accept(socket: Socket): void {
    const longestIdle = this.#open.size >= this.#maxConnections ? this.#idle.values().next().value : undefined;
    if (longestIdle !== undefined) this.#forget(longestIdle).destroy();
    if (this.#open.size >= this.#maxConnections) {
      if (this.#refused++ % 1000 === 0) this.#log.warn({ open: this.#open.size, maxConnections: this.#maxConnections, refused: this.#refused }, "connection refused: too many open connections");
      socket.end(refusalResponse);
      return;
    }
    this.#open.add(socket);
    this.#idle.add(socket);
    socket.once("close", () => this.#forget(socket));
  }

  #forget(socket: Socket): Socket {
    this.#open.delete(socket);
    this.#idle.delete(socket);
    return socket;
  }
}
