import { asyncModeSettings, asyncSettings, requireOutputPath, type AsyncConfig } from "../config/async-config.js";
import { resolveSettings, type Env, type FlagValues } from "../config/resolve.js";
import { startAsyncGateway } from "../gateway/index.js";
import { InProcessInvoker } from "../gateway/invoker.js";
import type { RunningServer } from "../server.js";

/**
 * The async configuration when `--async` or `BYOC_ASYNC_ENABLED` asks for the gateway, read from
 * `serve`'s flags and the environment and validated before the server starts so a bad setting
 * fails at once; `undefined` otherwise.
 *
 * @example
 * ```ts
 * const asyncConfig = asyncConfigForServe({ async: true, "s3-output-path": "s3://bucket/out" }, process.env);
 * ```
 */
export function asyncConfigForServe(values: FlagValues, env: Env): AsyncConfig | undefined {
  const flags = { command: "serve", values } as const;
  if (!resolveSettings(asyncModeSettings, { env, flags }).enabled) return undefined;
  const config = resolveSettings(asyncSettings, { env, flags });
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
