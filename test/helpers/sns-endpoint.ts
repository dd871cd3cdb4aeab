/**
 * A local SNS endpoint for tests. No SNS server exists in npm or Debian (LocalStack needs Docker,
 * which this machine cannot run), so this speaks the part of the SNS Query API that the real
 * `@aws-sdk/client-sns` uses for Publish: it parses the form-encoded request, checks its SigV4
 * signature with the AWS SDK's own signer (credential scope `<date>/<region>/sns/aws4_request`,
 * test/helpers/sigv4.ts) and refuses a bad one with SNS's 403 `SignatureDoesNotMatch`, records
 * the messages and answers with SNS's XML. It can be told to fail the next publishes.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkSignature, type SignatureProblem, type SigningCredentials } from "./sigv4.js";

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

/** SNS's names for the signature problems (S3 names them differently). */
const snsErrorCodes: Readonly<Record<SignatureProblem["code"], string>> = {
  AccessDenied: "MissingAuthenticationToken",
  InvalidAccessKeyId: "InvalidClientTokenId",
  SignatureDoesNotMatch: "SignatureDoesNotMatch",
};

/** Starts the endpoint; it accepts requests signed with `credentials` and topics in `topics`. */
export async function startTestSns(topics: readonly string[], credentials: SigningCredentials): Promise<TestSns> {
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

  /** Answers a correctly signed request: Publish to a known topic, or the failure the test asked for. */
  const handle = (body: Buffer, response: ServerResponse): void => {
    const form = new URLSearchParams(body.toString("utf8"));
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
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      checkSignature(request, body, credentials, { service: "sns", uriEscapePath: true }).then(
        (problem) => (problem === undefined ? handle(body, response) : error(response, 403, "Sender", snsErrorCodes[problem.code], problem.message)),
        (failure: unknown) => error(response, 403, "Sender", "SignatureDoesNotMatch", String(failure)),
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
