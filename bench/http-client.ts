/**
 * A keep-alive HTTP/1.1 client connection for the load generator: one request in flight at a
 * time, the request's bytes built once, the answer's body kept as bytes. The load generator
 * compares every answer with the first byte for byte, which needs raw bodies: autocannon, used
 * before, appends body chunks to a string, which mangles binary (`.npy`) answers whose UTF-8
 * sequences straddle two chunks.
 */
import { connect, type Socket } from "node:net";

/**
 * One answer.
 *
 * @example
 * ```ts
 * const answer: HttpAnswer = { status: 200, contentType: "application/json", body: Buffer.from("{}") };
 * ```
 */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** No answer within the time limit; the connection was closed. */
export class RequestTimeoutError extends Error {}

/** The caller gave up on the request in flight ({@link KeepAliveConnection.abandon}). */
export class RequestAbandonedError extends Error {}

/**
 * The bytes of a `POST` (or a bodyless `GET`) with its headers, ready to write again and again.
 *
 * @example
 * ```ts
 * const bytes = encodeRequest({ method: "POST", path: "/invocations", host: "127.0.0.1:8080", headers: { "content-type": "application/json" }, body });
 * ```
 */
export function encodeRequest(request: {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly host: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}): Buffer {
  const headers = { host: request.host, ...request.headers, ...(request.body === undefined ? {} : { "content-length": String(request.body.length) }) };
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;
  return request.body === undefined ? Buffer.from(head, "latin1") : Buffer.concat([Buffer.from(head, "latin1"), request.body]);
}

interface Pending {
  resolve(answer: HttpAnswer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface Head {
  readonly status: number;
  readonly contentType: string;
  /** Bytes from the start of the message to the first body byte. */
  readonly bodyStart: number;
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
  readonly close: boolean;
}

const headEnd = Buffer.from("\r\n\r\n");

/**
 * A connection to `host:port` that sends the same request each time {@link send} is called,
 * reconnecting when the server closed it (`Connection: close`, an idle timeout). A request the
 * connection drops is an error; one with no answer within `timeoutMs` a
 * {@link RequestTimeoutError}, and the connection is closed.
 *
 * @example
 * ```ts
 * const connection = new KeepAliveConnection("127.0.0.1", 8080, bytes, 10_000);
 * const answer = await connection.send();
 * connection.close();
 * ```
 */
export class KeepAliveConnection {
  #socket: Socket | undefined;
  #pending: Pending | undefined;
  #chunks: Buffer[] = [];
  #received = 0;
  #head: Head | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly request: Buffer,
    private readonly timeoutMs: number,
  ) {}

  /** Sends the request; resolves with the answer. One call at a time. */
  send(): Promise<HttpAnswer> {
    if (this.#pending !== undefined) return Promise.reject(new Error("a request is already in flight on this connection"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(new RequestTimeoutError(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.#pending = { resolve, reject, timer };
      this.#chunks = [];
      this.#received = 0;
      this.#head = undefined;
      (this.#socket ?? this.#connect()).write(this.request);
    });
  }

  close(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }

  /** Closes the connection; a request in flight rejects with {@link RequestAbandonedError}. */
  abandon(): void {
    this.#fail(new RequestAbandonedError("abandoned by the caller"));
    this.close();
  }

  #connect(): Socket {
    const socket = connect(this.port, this.host);
    socket.setNoDelay(true);
    // A socket this connection already let go of (after `Connection: close`) may still report
    // its close while the next request is in flight on a new one: only the current one counts.
    socket.on("data", (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      try {
        this.#onData(chunk);
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    socket.on("error", (error) => {
      if (this.#socket === socket) this.#fail(error);
    });
    socket.on("close", () => {
      if (this.#socket === socket) this.#fail(new Error("the server closed the connection before answering"));
    });
    this.#socket = socket;
    return socket;
  }

  #onData(chunk: Buffer): void {
    if (this.#pending === undefined) {
      // Bytes with no request in flight: the stream is out of step, start afresh.
      this.close();
      return;
    }
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    if (this.#head === undefined) {
      const bytes = this.#joined();
      const end = bytes.indexOf(headEnd);
      if (end < 0) return;
      this.#head = parseHead(bytes.subarray(0, end).toString("latin1"), end + headEnd.length);
    }
    const head = this.#head;
    let body: Buffer | undefined;
    if (head.contentLength !== undefined) {
      if (this.#received < head.bodyStart + head.contentLength) return;
      body = this.#joined().subarray(head.bodyStart, head.bodyStart + head.contentLength);
    } else if (head.chunked) {
      body = dechunk(this.#joined().subarray(head.bodyStart));
      if (body === undefined) return;
    } else {
      body = Buffer.alloc(0);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    if (head.close) this.close();
    pending.resolve({ status: head.status, contentType: head.contentType, body });
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#received)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    this.close();
    pending.reject(error);
  }
}

function parseHead(text: string, bodyStart: number): Head {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  if (Number.isNaN(status)) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = headers.get("content-length");
  const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200);
  return {
    status,
    contentType: headers.get("content-type") ?? "",
    bodyStart,
    contentLength: bodiless ? 0 : length === undefined ? undefined : Number(length),
    chunked: /\bchunked\b/i.test(headers.get("transfer-encoding") ?? ""),
    close: /\bclose\b/i.test(headers.get("connection") ?? "") || statusLine.startsWith("HTTP/1.0"),
  };
}

/** The body of a complete chunked message, or undefined when more bytes are needed. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", offset);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(offset, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("malformed chunk size");
    const dataStart = lineEnd + 2;
    // The last chunk: optional trailers, then an empty line.
    if (size === 0) return bytes.includes("\r\n\r\n", lineEnd) ? Buffer.concat(parts) : undefined;
    if (bytes.length < dataStart + size + 2) return undefined;
    parts.push(bytes.subarray(dataStart, dataStart + size));
    offset = dataStart + size + 2;
  }
}
