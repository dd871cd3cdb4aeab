import { asyncModeSettings, asyncSettings, requireOutputPath, type AsyncConfig } from "../config/async-config.js";
import { resolveSettings, type Env, type FlagValues } from "../config/resolve.js";
import { startAsyncGateway } from "../gateway/index.js";
import { InProcessInvoker } from "../gateway/invoker.js";
import { InProcessModelHost } from "../gateway/multi-model/model-host.js";
import { ConfigurationError } from "../errors.js";
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
  const gateway = await Promise.resolve()
    .then(() => startAsyncGateway(gatewayOptionsForServe(config, server)))
    .catch(async (error: unknown) => {
      await server.close();
      throw error;
    });
  return async () => {
    await gateway.close();
    await server.close();
  };
}

/**
 * The gateway beside this process's server. A multi-model server (`--multi-model`) needs the
 * models' S3 prefix (`--model-data-url`), and the gateway then fetches models into the server's
 * own models root, where `POST /models` may load them from.
 */
function gatewayOptionsForServe(config: AsyncConfig, server: RunningServer): Parameters<typeof startAsyncGateway>[0] {
  const base = { config, invoker: new InProcessInvoker(server), log: server.log };
  const { modelDataUrl } = config.multiModel;
  if (server.registry === undefined) {
    if (modelDataUrl !== undefined) throw new ConfigurationError(`--model-data-url ${modelDataUrl} needs a multi-model server: add --multi-model (or SAGEMAKER_MULTI_MODEL=true)`);
    return base;
  }
  if (modelDataUrl === undefined) throw new ConfigurationError("--async on a multi-model server needs the models' S3 prefix: set --model-data-url (or BYOC_MME_MODEL_DATA_URL)");
  const root = server.config.modelsRoot;
  return { ...base, config: { ...config, multiModel: { ...config.multiModel, cacheDir: root, containerModelsDir: root } }, multiModel: { host: new InProcessModelHost(server) } };
}
