import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { pino } from "pino";
import type { LogRecord } from "./capture-log.js";
import { loadAsyncConfig, type AsyncConfigOverrides } from "../../src/config/async-config.js";
import { startAsyncGateway, type RunningAsyncGateway } from "../../src/gateway/index.js";
import { InProcessInvoker, type Invoker } from "../../src/gateway/invoker.js";
import type { RunningServer } from "../../src/server.js";
import { startTestS3, s3Credentials, type TestS3 } from "./s3-server.js";
import { startTestServer } from "./server.js";
import { startTestSns, type TestSns } from "./sns-endpoint.js";

export const behavioursHandlers = fileURLToPath(new URL("../fixtures/handlers/behaviours.ts", import.meta.url));
export const successTopic = "arn:aws:sns:us-east-1:000000000000:async-success";
export const errorTopic = "arn:aws:sns:us-east-1:000000000000:async-error";
export const endpointName = "test-endpoint";

/** Everything an async test talks to: S3 (s3rver), SNS (local endpoint), the model server, the gateway, a real SageMaker Runtime client. */
export interface AsyncStack {
  readonly s3: TestS3;
  readonly sns: TestSns;
  readonly server: RunningServer;
  readonly gateway: RunningAsyncGateway;
  readonly runtime: SageMakerRuntimeClient;
  readonly queueDir: string;
  /** Every line the gateway logged. */
  readonly logs: LogRecord[];
  /** Resolves with the first line (logged before or after the call) whose `msg` is `msg`; rejects after `timeoutMs`. */
  waitForLog(msg: string, matches?: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Fake clock offset in ms, added to Date.now() for the gateway and worker. */
  advanceClock(ms: number): void;
  /** Starts the gateway again on the same queue directory (after `gateway.close()`). */
  restartGateway(overrides?: AsyncConfigOverrides): Promise<RunningAsyncGateway>;
  close(): Promise<void>;
}

/**
 * Starts the stack with the behaviours handlers (the custom attributes pick what the model does)
 * and short retry delays.
 */
export async function startAsyncStack(overrides: AsyncConfigOverrides = {}, options: { invoker?: Invoker } = {}): Promise<AsyncStack> {
  const s3 = await startTestS3();
  const sns = await startTestSns([successTopic, errorTopic], s3Credentials);
  const server = await startTestServer({ handlersPath: behavioursHandlers, workers: 1 });
  const queueDir = await mkdtemp(join(tmpdir(), "byoc-async-queue-"));
  let offset = 0;
  const logs: LogRecord[] = [];
  const logWaiters = new Set<(record: LogRecord) => void>();
  const destination = {
    write(line: string) {
      const record = JSON.parse(line) as LogRecord;
      logs.push(record);
      for (const waiter of logWaiters) waiter(record);
    },
  };
  const log = pino({ level: "debug", formatters: { level: (label) => ({ level: label }) } }, destination);
  const now = (): number => Date.now() + offset;
  const config = (extra: AsyncConfigOverrides) =>
    loadAsyncConfig(
      {},
      {
        endpointName,
        s3OutputPath: `s3://${s3.bucket}/output`,
        s3FailurePath: `s3://${s3.bucket}/failure`,
        successTopic,
        errorTopic,
        s3Endpoint: s3.endpoint,
        snsEndpoint: sns.endpoint,
        queueDir,
        port: 0,
        host: "127.0.0.1",
        retryBaseMs: 20,
        retryMaxMs: 200,
        maxConcurrentInvocations: 2,
        logLevel: "silent",
        shutdownTimeoutMs: 2_000,
        ...overrides,
        ...extra,
      },
    );
  const start = (extra: AsyncConfigOverrides = {}) =>
    startAsyncGateway({
      config: config(extra),
      invoker: options.invoker ?? new InProcessInvoker(server, log),
      log,
      // One set of local credentials, as with LocalStack: the S3 test server and the SNS endpoint both check the SigV4 signatures (test/helpers/sigv4.ts).
      credentials: s3Credentials,
      now,
    });
  let gateway = await start();
  const runtime = new SageMakerRuntimeClient({ endpoint: gateway.url, region: "us-east-1", credentials: { accessKeyId: "any", secretAccessKey: "any" }, maxAttempts: 1 });
  return {
    s3,
    sns,
    server,
    get gateway() {
      return gateway;
    },
    runtime,
    queueDir,
    logs,
    waitForLog(msg, matches = () => true, timeoutMs = 30_000) {
      const found = logs.find((record) => record.msg === msg && matches(record));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          logWaiters.delete(waiter);
          reject(new Error(`no log line "${msg}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (record: LogRecord): void => {
          if (record.msg !== msg || !matches(record)) return;
          clearTimeout(timer);
          logWaiters.delete(waiter);
          resolve(record);
        };
        logWaiters.add(waiter);
      });
    },
    advanceClock(ms) {
      offset += ms;
    },
    async restartGateway(extra = {}) {
      gateway = await start(extra);
      return gateway;
    },
    async close() {
      runtime.destroy();
      await gateway.close();
      await server.close();
      await s3.close();
      await sns.close();
      await rm(queueDir, { recursive: true, force: true });
    },
  };
}
