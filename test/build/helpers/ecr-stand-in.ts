/**
 * A local stand-in for the Amazon ECR API, the one AWS service `push` calls: no AWS account is
 * reachable from tests, so this HTTP server answers DescribeRepositories, CreateRepository and
 * GetAuthorizationToken in the AWS JSON 1.1 protocol the SDK speaks (POST /, `X-Amz-Target:
 * AmazonEC2ContainerRegistry_V20150921.<Operation>`, errors as `{"__type", "message"}`). Its
 * token and proxy endpoint point at a real local registry, so the login and push that follow are
 * real.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

const targetPrefix = "AmazonEC2ContainerRegistry_V20150921.";

/** One request the stand-in received. */
export interface EcrCall {
  readonly operation: string;
  readonly body: Record<string, unknown>;
  /** The SigV4 Authorization header: present when the SDK signed with credentials. */
  readonly authorization: string | undefined;
}

/** An error to answer an operation with. */
export interface EcrFailure {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/** How the stand-in answers. */
export interface EcrStandInOptions {
  /** `host:port` of the registry the token is for. */
  readonly registry: string;
  /** The registry password the token carries (user `AWS`). */
  readonly password: string;
  readonly accountId?: string;
  /** Repositories that exist from the start. */
  readonly repositories?: readonly string[];
  /** Operations that fail, by name. */
  readonly failures?: Readonly<Record<string, EcrFailure>>;
  /** Replaces the base64 `AWS:<password>` token (to test malformed answers). */
  readonly token?: string;
}

/** A running stand-in. */
export interface EcrStandIn {
  readonly url: string;
  readonly calls: EcrCall[];
  readonly repositories: Set<string>;
  close(): Promise<void>;
}

/**
 * Starts the stand-in on a free loopback port.
 *
 * @example
 * ```ts
 * const ecr = await startEcrStandIn({ registry: "127.0.0.1:5000", password: "secret" });
 * ```
 */
export async function startEcrStandIn(options: EcrStandInOptions): Promise<EcrStandIn> {
  const accountId = options.accountId ?? "123456789012";
  const repositories = new Set(options.repositories ?? []);
  const calls: EcrCall[] = [];
  const describe = (name: string) => ({
    repositoryName: name,
    repositoryUri: `${options.registry}/${name}`,
    repositoryArn: `arn:aws:ecr:us-east-1:${accountId}:repository/${name}`,
    registryId: accountId,
    createdAt: 1_700_000_000,
  });
  const handlers: Record<string, (body: Record<string, unknown>) => [number, unknown]> = {
    DescribeRepositories: (body) => {
      const names = (body["repositoryNames"] as string[] | undefined) ?? [...repositories];
      const missing = names.find((name) => !repositories.has(name));
      if (missing !== undefined) {
        return [400, { __type: "RepositoryNotFoundException", message: `The repository with name '${missing}' does not exist in the registry with id '${accountId}'` }];
      }
      return [200, { repositories: names.map(describe) }];
    },
    CreateRepository: (body) => {
      const name = body["repositoryName"] as string;
      if (repositories.has(name)) return [400, { __type: "RepositoryAlreadyExistsException", message: `The repository with name '${name}' already exists` }];
      repositories.add(name);
      return [200, { repository: describe(name) }];
    },
    GetAuthorizationToken: () => [
      200,
      {
        authorizationData: [
          {
            authorizationToken: options.token ?? Buffer.from(`AWS:${options.password}`).toString("base64"),
            expiresAt: Math.floor(Date.now() / 1000) + 12 * 3600,
            proxyEndpoint: `http://${options.registry}`,
          },
        ],
      },
    ],
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const target = String(request.headers["x-amz-target"] ?? "");
      const operation = target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : target;
      const body = chunks.length === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
      calls.push({ operation, body, authorization: request.headers.authorization });
      const failure = options.failures?.[operation];
      const handler = handlers[operation];
      const [status, answer] =
        failure !== undefined
          ? [failure.status, { __type: failure.type, message: failure.message }]
          : handler === undefined
            ? [400, { __type: "UnknownOperationException", message: `Unknown operation ${target}` }]
            : handler(body);
      response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      response.end(JSON.stringify(answer));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    repositories,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
