import { asyncModeEnabled, loadAsyncConfig, requireOutputPath, type AsyncConfig, type AsyncConfigOverrides } from "../config/async-config.js";
import { startAsyncGateway } from "../gateway/index.js";
import { InProcessInvoker } from "../gateway/invoker.js";
import type { RunningServer } from "../server.js";
import { integerFlag } from "./flags.js";

/** The async flags `serve` and `gateway` share; each also has an environment variable (docs/async.md). */
export const asyncFlagOptions = {
  "endpoint-name": { type: "string" },
  "s3-output-path": { type: "string" },
  "s3-failure-path": { type: "string" },
  "queue-dir": { type: "string" },
  "max-concurrent-invocations": { type: "string" },
} as const;

/** Their lines in the usage texts. */
export const asyncFlagUsage = `  --endpoint-name <name>     endpoint name clients call (default local-endpoint)
  --s3-output-path <uri>     S3OutputPath, s3://bucket/prefix (required; $BYOC_ASYNC_S3_OUTPUT_PATH)
  --s3-failure-path <uri>    S3FailurePath for failure objects
  --queue-dir <dir>          durable queue directory, one per gateway (default <tmp>/sagemaker-byoc-async/<endpoint name>)
  --max-concurrent-invocations <n>  MaxConcurrentInvocationsPerInstance (default: CPU count)`;

type AsyncFlagValues = { readonly [K in keyof typeof asyncFlagOptions]?: string | undefined };

/**
 * The config overrides the shared async flags give.
 *
 * @example
 * ```ts
 * loadAsyncConfig(env, asyncOverridesFrom({ "queue-dir": "/data/queue" }));
 * ```
 */
export function asyncOverridesFrom(values: AsyncFlagValues): AsyncConfigOverrides {
  return {
    endpointName: values["endpoint-name"],
    s3OutputPath: values["s3-output-path"],
    s3FailurePath: values["s3-failure-path"],
    queueDir: values["queue-dir"],
    maxConcurrentInvocations: integerFlag("max-concurrent-invocations", values["max-concurrent-invocations"], 1),
  };
}

/** The flags `serve` adds to run the async gateway in its own process. */
export const serveAsyncOptions = {
  async: { type: "boolean" },
  "async-port": { type: "string" },
  ...asyncFlagOptions,
} as const;

/** Their lines in `serve --help`. */
export const serveAsyncUsage = `
Async inference (a local SageMaker Runtime on its own port; docs/async.md):
  --async                    also run the async gateway (or BYOC_ASYNC_ENABLED=true)
  --async-port <n>           gateway port (default $BYOC_ASYNC_PORT or 8081)
${asyncFlagUsage}`;

type ServeAsyncValues = AsyncFlagValues & { readonly async?: boolean | undefined; readonly "async-port"?: string | undefined };

/**
 * The async configuration when `--async` or `BYOC_ASYNC_ENABLED` asks for the gateway, read and
 * validated before the server starts so a bad setting fails at once; `undefined` otherwise.
 *
 * @example
 * ```ts
 * const asyncConfig = asyncConfigForServe(values, env);
 * ```
 */
export function asyncConfigForServe(values: ServeAsyncValues, env: NodeJS.ProcessEnv): AsyncConfig | undefined {
  if (values.async !== true && !asyncModeEnabled(env)) return undefined;
  const config = loadAsyncConfig(env, { ...asyncOverridesFrom(values), port: integerFlag("async-port", values["async-port"], 0) });
  requireOutputPath(config);
  return config;
}

/**
 * Starts the gateway on the model server of this process (or nothing without a config), and
 * returns how to stop both, gateway first so no request is taken that the server cannot finish.
 *
 * @example
 * ```ts
 * const close = await startAsyncForServe(asyncConfig, server);
 * await close();
 * ```
 */
export async function startAsyncForServe(config: AsyncConfig | undefined, server: RunningServer): Promise<() => Promise<void>> {
  if (config === undefined) return () => server.close();
  const gateway = await startAsyncGateway({ config, invoker: new InProcessInvoker(server), log: server.log }).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return async () => {
    await gateway.close();
    await server.close();
  };
}
