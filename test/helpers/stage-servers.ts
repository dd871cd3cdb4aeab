/**
 * Small containers for pipeline tests: real HTTP servers on loopback that answer `/ping` and
 * `/invocations` as a SageMaker container does, in this process (a `serve` process each would
 * cost seconds and hundreds of MB for fifteen of them).
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * How a stage server answers `/invocations`, given the request and its body.
 *
 * @example
 * ```ts
 * const echo: StageBehaviour = (request, body, response) => response.end(body);
 * ```
 */
export type StageBehaviour = (request: IncomingMessage, body: Buffer, response: ServerResponse) => void;

/**
 * A listening stage server.
 *
 * @example
 * ```ts
 * const stage = await startStageServer(appendStage("a"));
 * await stage.close();
 * ```
 */
export interface StageServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `/invocations` requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Starts a server whose `/ping` answers 200 and whose `/invocations` runs `behaviour`.
 *
 * @example
 * ```ts
 * const stage = await startStageServer((_request, body, response) => response.end(body));
 * ```
 */
export async function startStageServer(behaviour: StageBehaviour): Promise<StageServer> {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.url === "/ping") {
        response.end("{}");
        return;
      }
      requests++;
      behaviour(request, Buffer.concat(chunks), response);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * A stage that appends its name to the JSON list it receives (an empty list for a body that is
 * not one) and answers it as `application/json`.
 *
 * @example
 * ```ts
 * const stages = await Promise.all(["a", "b"].map((name) => startStageServer(appendStage(name))));
 * ```
 */
export function appendStage(name: string): StageBehaviour {
  return (request, body, response) => {
    const received = request.headers["content-type"] === "application/json" ? (JSON.parse(body.toString("utf8")) as string[]) : [];
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify([...received, name]));
  };
}
