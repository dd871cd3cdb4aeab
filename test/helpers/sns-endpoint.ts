/**
 * A local SNS endpoint for tests. No SNS server exists in npm or Debian (LocalStack needs Docker,
 * which this machine cannot run), so this speaks the part of the SNS Query API that the real
 * `@aws-sdk/client-sns` uses for Publish: it parses the form-encoded request, checks the SigV4
 * signature (credential scope `<date>/<region>/sns/aws4_request`) with node:crypto, records the
 * messages and answers with SNS's XML. It can be told to fail the next publishes.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One accepted Publish. */
export interface PublishedMessage {
  readonly topicArn: string;
  readonly message: string;
  readonly messageId: string;
}

/** How the next publishes fail: 500 InternalError, 429 Throttled, or 404 NotFound (permanent). */
export type SnsFailure = "internal" | "throttle" | "not-found";

export interface TestSns {
  readonly endpoint: string;
  readonly published: PublishedMessage[];
  /** Publish requests received, failed ones included. */
  readonly attempts: number;
  failNext(count: number, how: SnsFailure): void;
  /** An outage: closes the port and drops open connections. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  /** Resolves once `count` messages were accepted on `topicArn`. */
  waitForMessages(topicArn: string, count?: number): Promise<PublishedMessage[]>;
  close(): Promise<void>;
}

const xmlns = "http://sns.amazonaws.com/doc/2010-03-31/";

/** Starts the endpoint; it accepts requests signed with `credentials` and topics in `topics`. */
export async function startTestSns(topics: readonly string[], credentials: { accessKeyId: string; secretAccessKey: string }): Promise<TestSns> {
  const published: PublishedMessage[] = [];
  const waiters = new Set<() => void>();
  let attempts = 0;
  let failures: SnsFailure[] = [];

  const answer = (response: ServerResponse, status: number, xml: string): void => {
    response.writeHead(status, { "content-type": "text/xml" }).end(xml);
  };
  const error = (response: ServerResponse, status: number, type: string, code: string, message: string): void => {
    answer(response, status, `<ErrorResponse xmlns="${xmlns}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(body.toString("utf8"));
      const problem = checkSignature(request, body, credentials);
      if (problem !== undefined) return error(response, 403, "Sender", "SignatureDoesNotMatch", problem);
      if (form.get("Action") !== "Publish" || form.get("Version") !== "2010-03-31") {
        return error(response, 400, "Sender", "InvalidAction", `Unsupported action ${form.get("Action") ?? ""}`);
      }
      attempts++;
      const failure = failures.shift();
      if (failure === "internal") return error(response, 500, "Receiver", "InternalError", "Internal failure (test)");
      if (failure === "throttle") return error(response, 429, "Sender", "Throttled", "Rate exceeded (test)");
      const topicArn = form.get("TopicArn") ?? "";
      if (failure === "not-found" || !topics.includes(topicArn)) return error(response, 404, "Sender", "NotFound", "Topic does not exist");
      const messageId = randomUUID();
      published.push({ topicArn, message: form.get("Message") ?? "", messageId });
      for (const waiter of waiters) waiter();
      answer(
        response,
        200,
        `<PublishResponse xmlns="${xmlns}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const stop = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    published,
    get attempts() {
      return attempts;
    },
    failNext(count, how) {
      failures = Array.from({ length: count }, () => how);
    },
    waitForMessages(topicArn, count = 1) {
      return new Promise((resolve) => {
        const check = (): void => {
          const matching = published.filter((message) => message.topicArn === topicArn);
          if (matching.length < count) return;
          waiters.delete(check);
          resolve(matching);
        };
        waiters.add(check);
        check();
      });
    },
    stop,
    async restart() {
      if (server.listening) return;
      server.listen(port, "127.0.0.1");
      await once(server, "listening");
    },
    close: stop,
  };
}

/** Recomputes the SigV4 signature of an SNS request; returns what is wrong, or `undefined`. */
function checkSignature(request: IncomingMessage, body: Buffer, credentials: { accessKeyId: string; secretAccessKey: string }): string | undefined {
  const authorization = request.headers["authorization"] ?? "";
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (match === null) return "No SigV4 Authorization header";
  const [, accessKey, date, region, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string, string];
  if (service !== "sns") return `Credential scope names service ${service}, not sns`;
  if (accessKey !== credentials.accessKeyId) return `Unknown access key ${accessKey}`;
  const amzDate = String(request.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) return "x-amz-date does not match the credential scope";
  const payloadHash = createHash("sha256").update(body).digest("hex");
  const declared = request.headers["x-amz-content-sha256"];
  if (declared !== undefined && declared !== payloadHash) return "x-amz-content-sha256 does not match the body";
  const canonicalHeaders = signedHeaders
    .split(";")
    .map((name) => `${name}:${String(request.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const url = new URL(request.url ?? "/", "http://localhost");
  const canonicalRequest = [request.method, url.pathname, url.searchParams.toString(), canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", signingKey).update(stringToSign).digest("hex");
  return expected === signature ? undefined : "The request signature does not match";
}
