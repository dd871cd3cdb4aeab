import express, { type Router } from "express";
import { BadRequestError } from "../../errors.js";
import type { ModelRegistry } from "../../dispatch/model-registry.js";

/**
 * The model-management API of a multi-model endpoint, as SageMaker calls it
 * (docs/multi-model.md): `POST /models` loads (200, 409 already loaded, 507 out of memory, 400 for
 * a `url` outside the models root), `GET /models` lists with paging (`limit`, `next_page_token`),
 * `GET /models/{name}` describes (404 when not loaded), `DELETE /models/{name}` unloads (404 when
 * not loaded). `POST /models/{name}/invoke` is answered before Express, with the other hot route.
 *
 * @example
 * ```ts
 * app.use(createModelsRouter(registry));
 * ```
 */
export function createModelsRouter(registry: ModelRegistry): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  router.post("/models", express.json({ limit: "64kb", type: () => true }), async (request, response) => {
    const body = request.body as Record<string, unknown> | undefined;
    const name = body?.["model_name"];
    const url = body?.["url"];
    if (typeof name !== "string" || name === "" || name.length > 1024 || typeof url !== "string") {
      throw new BadRequestError('POST /models takes a JSON body {"model_name": "<name>", "url": "<directory under the models root>"}');
    }
    const loaded = await registry.load(name, url);
    response.json({ modelName: loaded.modelName, modelUrl: loaded.modelUrl });
  });
  router.get("/models", (request, response) => {
    const query = new URL(request.originalUrl, "http://localhost").searchParams;
    const limit = query.get("limit");
    const pageSize = limit === null ? undefined : Number(limit);
    if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1)) throw new BadRequestError(`limit=${limit} must be a whole number of at least 1`);
    const token = query.get("next_page_token") ?? undefined;
    const page = registry.list(pageSize, token);
    response.json({
      models: page.models.map((model) => ({ modelName: model.modelName, modelUrl: model.modelUrl })),
      ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
    });
  });
  router.get("/models/:name", (request, response) => {
    const model = registry.describe(request.params["name"]);
    response.json({ modelName: model.modelName, modelUrl: model.modelUrl });
  });
  router.delete("/models/:name", async (request, response) => {
    const name = request.params["name"];
    await registry.unload(name);
    response.json({ status: `Model ${name} unloaded` });
  });
  return router;
}
