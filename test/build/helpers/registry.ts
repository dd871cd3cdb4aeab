/**
 * A real OCI registry for push tests: Debian's docker-registry (the CNCF distribution registry)
 * on a free loopback port, with htpasswd authentication and its storage in a temporary folder;
 * and the clean-up of the images the tests build.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../helpers/free-port.js";

const execFileAsync = promisify(execFile);
/** buildah with a deadline: a wedged storage lock fails the clean-up instead of stalling the run. */
const runFile = (command: string, args: string[]) => execFileAsync(command, args, { timeout: 120_000, killSignal: "SIGKILL" });

/** How long docker-registry may take to say it listens (it starts in well under a second). */
const startDeadlineMs = 30_000;

/** A running registry. */
export interface LocalRegistry {
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  readonly username: string;
  readonly password: string;
  /** GET on the registry API with the registry's credentials. */
  get(path: string, accept?: string): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Starts the registry and waits until it listens; kills it and fails, with what it printed, when
 * it exits first or does not listen within 30 s.
 *
 * @example
 * ```ts
 * const registry = await startRegistry();
 * await registry.get("/v2/"); // 200 with the credentials
 * ```
 */
export async function startRegistry(username = "AWS", password = "registry-secret"): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "byoc-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // distribution accepts bcrypt entries only; htpasswd (apache2-utils) writes them.
  await writeFile(join(dir, "htpasswd"), execFileSync("htpasswd", ["-Bbn", username, password]));
  await writeFile(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log:",
      "  level: info",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "http:",
      `  addr: ${host}`,
      "auth:",
      "  htpasswd:",
      "    realm: byoc-test",
      `    path: ${join(dir, "htpasswd")}`,
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  // Settles on exit, or at once when it could not start ("error" and no exit).
  const exited = once(child, "exit").then(
    () => undefined,
    () => undefined,
  );
  let log = "";
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const onOutput = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("listening on")) resolve();
      };
      child.stdout.on("data", onOutput);
      child.stderr.on("data", onOutput);
      child.once("error", reject);
      void exited.then(() => reject(new Error(`docker-registry exited before listening:\n${log}`)));
      timer = setTimeout(() => reject(new Error(`docker-registry did not listen within ${startDeadlineMs / 1000} s:\n${log}`)), startDeadlineMs);
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  return {
    host,
    username,
    password,
    get: (path, accept) => fetch(`http://${host}${path}`, { headers: { authorization, ...(accept === undefined ? {} : { accept }) } }),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        // It stops at once on SIGTERM; should it not, it does not get to hold the run up.
        const stubborn = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(stubborn);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The IDs of buildah's dangling images (the intermediate layers `buildah build --layers` keeps).
 *
 * @example
 * ```ts
 * const before = await danglingImages();
 * ```
 */
export async function danglingImages(): Promise<Set<string>> {
  const { stdout } = await runFile("buildah", ["images", "--quiet", "--filter", "dangling=true"]);
  return new Set(stdout.split("\n").filter((id) => id !== ""));
}

/**
 * Removes the images a test built: the named ones, then the intermediate layers that appeared
 * since `danglingBefore` was taken, so repeated runs do not fill buildah's storage.
 *
 * @example
 * ```ts
 * await removeImages(["localhost/app:1"], before);
 * ```
 */
export async function removeImages(names: readonly string[], danglingBefore: ReadonlySet<string>): Promise<void> {
  for (const name of names) await runFile("buildah", ["rmi", "--force", name]).catch(() => undefined);
  const created = [...(await danglingImages())].filter((id) => !danglingBefore.has(id));
  if (created.length > 0) await runFile("buildah", ["rmi", "--force", ...created]).catch(() => undefined);
}
