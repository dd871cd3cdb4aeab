import { lstat, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { ConfigurationError } from "../errors.js";
import { toolkitPackageName } from "./project.js";

/**
 * The toolkit's dependencies that only its developer commands load: `push` (the ECR API) and
 * `invoke`, `invoke-async` (the SageMaker Runtime API). An image serves, and never runs those
 * commands, so `build` leaves them out of it; the commands import them when they run.
 *
 * @example
 * ```ts
 * cliOnlyDependencies.includes("@aws-sdk/client-ecr"); // true
 * ```
 */
export const cliOnlyDependencies: readonly string[] = ["@aws-sdk/client-ecr", "@aws-sdk/client-sagemaker-runtime"];

/**
 * Imports a dependency only a developer command needs, when that command runs, so the serving
 * image can do without it. Where it is missing (inside an image `build` made), throws a
 * {@link ConfigurationError} that says so and where to run the command instead.
 *
 * @example
 * ```ts
 * const { ECRClient } = await importCliDependency("@aws-sdk/client-ecr", "push", () => import("@aws-sdk/client-ecr"));
 * ```
 */
export async function importCliDependency<T>(name: string, command: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && (error as Error).message.includes(name)) {
      throw new ConfigurationError(
        `sagemaker-byoc ${command} needs ${name}, which is not installed here: images built by sagemaker-byoc build leave it out, ` +
          `since they only serve. Run ${command} from your project, where npm installed it with ${toolkitPackageName}.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * What {@link removeCliOnlyPackages} took out of `node_modules`.
 *
 * @example
 * ```ts
 * const { packages, bytes }: RemovedPackages = await removeCliOnlyPackages("ctx/program");
 * ```
 */
export interface RemovedPackages {
  /** Package folders removed, relative to `node_modules`. */
  readonly packages: readonly string[];
  /** Bytes of the files they held. */
  readonly bytes: number;
}

type Manifest = { readonly [field in "dependencies" | "optionalDependencies" | "peerDependencies"]?: Readonly<Record<string, string>> };

/**
 * Removes from an installed `node_modules` the {@link cliOnlyDependencies} and the packages only
 * they need: every package reachable from the program's dependencies is kept unless it is reached
 * only through the toolkit's edges to those. A project that depends on one of them itself (its
 * handlers call another endpoint) keeps it. Packages are found as Node resolves them, nested
 * `node_modules` first; npm's hidden lockfile, which would list the removed ones, goes too.
 *
 * @example
 * ```ts
 * const removed = await removeCliOnlyPackages("/work/app/.sagemaker-byoc/build/program");
 * ```
 */
export async function removeCliOnlyPackages(programDir: string): Promise<RemovedPackages> {
  const modules = join(programDir, "node_modules");
  const everything = await reachablePackages(programDir, false);
  const needed = await reachablePackages(programDir, true);
  const removable = [...everything].filter((dir) => !needed.has(dir)).sort();
  // A package nested in another's node_modules goes with it.
  const outermost = removable.filter((dir) => !removable.some((other) => dir.startsWith(`${other}${sep}`)));
  let bytes = 0;
  for (const dir of outermost) {
    bytes += await folderBytes(dir);
    await rm(dir, { recursive: true, force: true });
  }
  await rm(join(modules, ".package-lock.json"), { force: true });
  return { packages: removable.map((dir) => relative(modules, dir)), bytes };
}

/** Package folders reachable from the program's production dependencies; with `cut`, not through the toolkit's CLI-only edges. */
async function reachablePackages(programDir: string, cut: boolean): Promise<Set<string>> {
  const toolkitDir = join(programDir, "node_modules", toolkitPackageName);
  const reached = new Set<string>();
  const queue: { from: string; names: string[] }[] = [{ from: programDir, names: dependencyNames(await readManifest(programDir), false) }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const name of next.names) {
      if (cut && next.from === toolkitDir && cliOnlyDependencies.includes(name)) continue;
      const dir = await resolvePackage(programDir, next.from, name);
      if (dir === undefined || reached.has(dir)) continue;
      reached.add(dir);
      queue.push({ from: dir, names: dependencyNames(await readManifest(dir), true) });
    }
  }
  return reached;
}

function dependencyNames(manifest: Manifest | undefined, withPeers: boolean): string[] {
  if (manifest === undefined) return [];
  const fields = [manifest.dependencies, manifest.optionalDependencies, ...(withPeers ? [manifest.peerDependencies] : [])];
  return [...new Set(fields.flatMap((record) => Object.keys(record ?? {})))];
}

/** Where Node finds `name` from the package in `from`: its own node_modules, then each one above, up to the program's. */
async function resolvePackage(programDir: string, from: string, name: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const base = dir.split(sep).at(-1) ?? "";
    if (base !== "node_modules" && !base.startsWith("@")) {
      const candidate = join(dir, "node_modules", name);
      if ((await readManifest(candidate)) !== undefined) return candidate;
    }
    if (dir === programDir || dirname(dir) === dir) return undefined;
  }
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

async function folderBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return bytes;
}
