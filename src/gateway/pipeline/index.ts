import { createServer } from "node:http";
import type { Logger } from "pino";
import type { PipelineConfig } from "../../config/pipeline-config.js";
import { ConfigurationError } from "../../errors.js";
import { listen } from "../../http/listen.js";
import { createLogger } from "../../logger.js";
import { HttpInvoker } from "../invoker.js";
import { parsePipelineContainers, type PipelineContainer } from "./containers.js";
import { startLocalContainer, type ContainerOutput, type LocalContainer } from "./local-container.js";
import { MultiContainerEndpoint } from "./multi-container-endpoint.js";
import { createPipelineApp } from "./pipeline-api.js";

/**
 * How to start a local multi-container endpoint.
 *
 * @example
 * ```ts
 * const options: PipelineGatewayOptions = { config: loadPipelineConfig(process.env, { containers: ["pre=./pre", "model=./model"] }) };
 * ```
 */
export interface PipelineGatewayOptions {
  readonly config: PipelineConfig;
  /** Defaults to a new logger at `config.logLevel`. */
  readonly log?: Logger;
  /** What started containers inherit; defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Receives each line a started container writes; defaults to this process's stdout and stderr. */
  readonly onContainerOutput?: (line: ContainerOutput) => void;
}

/**
 * A listening multi-container endpoint.
 *
 * @example
 * ```ts
 * const gateway = await startPipelineGateway(options);
 * console.log(gateway.url, gateway.containers.map((container) => container.url));
 * await gateway.close();
 * ```
 */
export interface RunningPipelineGateway {
  /** `http://host:port` of the SageMaker Runtime API (loopback when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  /** Each container, in order, with the base URL it answers on. */
  readonly containers: readonly { readonly hostname: string; readonly url: string; readonly started: boolean }[];
  /** Stops accepting, lets requests in flight finish (up to the shutdown timeout), then stops the started containers. */
  close(): Promise<void>;
}

/**
 * Starts a local SageMaker multi-container endpoint (docs/pipelines.md): `serve` for each model
 * directory on a port of its own (all at once, each until its `/ping` answers 200), then the
 * SageMaker Runtime API in front of all containers, chaining them (`Serial`) or running the one a
 * request names (`Direct`). Containers given as URLs are used as they are, ready or not (the
 * gateway's `/ping` tells). Nothing keeps running unless all of that succeeds.
 *
 * @example
 * ```ts
 * const gateway = await startPipelineGateway({
 *   config: loadPipelineConfig(process.env, { containers: ["pre=http://127.0.0.1:9001", "model=./model"], containerEnvironment: ["model:SAGEMAKER_MODEL_SERVER_WORKERS=2"] }),
 * });
 * ```
 */
export async function startPipelineGateway(options: PipelineGatewayOptions): Promise<RunningPipelineGateway> {
  const { config } = options;
  if (config.containers === undefined) {
    throw new ConfigurationError("pipeline needs its containers: --container [<hostname>=]<url or model directory>, 2 to 15 times (or BYOC_PIPELINE_CONTAINERS)");
  }
  const definitions = parsePipelineContainers(config.containers, config.containerEnvironment ?? [], config.mode);
  const log = (options.log ?? createLogger(config.logLevel)).child({ component: "pipeline" });
  const started = await startContainers(definitions, config, options);
  let closing = false;
  const stopAll = (graceMs: number): Promise<void> => Promise.all(started.map((container) => container.stop(graceMs))).then(() => undefined);
  const startedByHostname = new Map(started.map((container) => [container.hostname, container]));
  const containers = definitions.map(({ hostname, target }) => {
    // Every directory container was started: startContainers rejects otherwise.
    const invocationsUrl = target.kind === "url" ? target.invocationsUrl : `${startedByHostname.get(hostname)?.url}/invocations`;
    return { hostname, invocationsUrl, url: new URL("/", invocationsUrl).href.replace(/\/$/, ""), started: target.kind === "directory" };
  });
  for (const container of started) {
    void container.exited.then(({ code, signal }) => {
      if (!closing) log.error({ container: container.hostname, code, signal }, "a started container exited; the endpoint's /ping answers 503 until the gateway is restarted");
    });
  }
  const endpoint = new MultiContainerEndpoint(
    config.mode,
    containers.map(({ hostname, invocationsUrl }) => ({ hostname, invoker: new HttpInvoker(invocationsUrl) })),
  );
  const server = createServer(createPipelineApp({ config, endpoint, log }));
  let address;
  try {
    address = await listen(server, config.port, config.host);
  } catch (error) {
    closing = true;
    await stopAll(config.shutdownTimeoutMs);
    throw error;
  }
  log.info(
    { port: address.port, host: config.host, endpointName: config.endpointName, mode: config.mode, containers: containers.map(({ hostname, url, started }) => ({ hostname, url, started })) },
    "pipeline gateway listening",
  );

  let stopping: Promise<void> | undefined;
  const close = (): Promise<void> => {
    stopping ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await stopped;
      clearTimeout(timer);
      await stopAll(config.shutdownTimeoutMs);
      log.info("pipeline gateway stopped");
    })();
    return stopping;
  };
  return { url: address.url, port: address.port, containers: containers.map(({ hostname, url, started }) => ({ hostname, url, started })), close };
}

/** Starts every directory container at once; when one fails, stops the others and rejects with its error. */
async function startContainers(definitions: readonly PipelineContainer[], config: PipelineConfig, options: PipelineGatewayOptions): Promise<LocalContainer[]> {
  const onOutput = options.onContainerOutput ?? writeToProcess;
  const starting = definitions.flatMap(({ hostname, target, environment }) =>
    target.kind === "directory"
      ? [startLocalContainer({ hostname, modelDir: target.modelDir, environment }, { env: options.env ?? process.env, startupTimeoutMs: config.startupTimeoutMs, onOutput })]
      : [],
  );
  const settled = await Promise.allSettled(starting);
  const started = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = settled.find((result) => result.status === "rejected");
  if (failure === undefined) return started;
  await Promise.all(started.map((container) => container.stop(config.shutdownTimeoutMs)));
  throw failure.reason;
}

function writeToProcess(line: ContainerOutput): void {
  (line.stream === "stdout" ? process.stdout : process.stderr).write(`${line.text}\n`);
}
