/**
 * Measures what leaving the CLI-only dependencies out of the serving image saves: builds the
 * bundled iris example's image twice with buildah on the offline base (scripts/make-base-image.sh),
 * once with @aws-sdk/client-ecr and @aws-sdk/client-sagemaker-runtime kept, as images were made
 * before, and once as `build` makes them now, then writes both sizes into docs/container.md
 * (between the image-size markers) and prints them. Needs buildah and root, as the image test does.
 *
 * Run with `npm run build && node --import tsx scripts/measure-image-size.ts`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BuildahEngine } from "../src/build/buildah-engine.js";
import { writeBuildContext } from "../src/build/build-context.js";
import { CommandRunner } from "../src/build/command-runner.js";
import { cliOnlyDependencies } from "../src/build/cli-only-dependencies.js";
import { readProject } from "../src/build/project.js";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../", import.meta.url));
const docs = join(repo, "docs", "container.md");
const baseImage = "localhost/sagemaker-byoc-base:bookworm-node24";
const markers = { start: "<!-- image-size:start -->", end: "<!-- image-size:end -->" } as const;

interface Measured {
  /** buildah's own figure, as `buildah images` prints it. */
  readonly size: string;
  /** Bytes of every file in the image. */
  readonly totalBytes: number;
  /** Bytes under /opt/program/node_modules. */
  readonly modulesBytes: number;
}

async function buildah(...args: string[]): Promise<string> {
  return (await run("buildah", args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
}

async function measure(image: string): Promise<Measured> {
  const [listed] = JSON.parse(await buildah("images", "--json", image)) as { size: string }[];
  const container = await buildah("from", image);
  try {
    const root = await buildah("mount", container);
    const bytes = async (path: string) => Number((await run("du", ["-sb", path])).stdout.split("\t")[0]);
    return { size: listed?.size ?? "?", totalBytes: await bytes(root), modulesBytes: await bytes(join(root, "opt", "program", "node_modules")) };
  } finally {
    await buildah("umount", container);
    await buildah("rm", container);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  await run("sh", [join(repo, "scripts", "make-base-image.sh"), baseImage]);
  const work = await mkdtemp(join(tmpdir(), "byoc-image-size-"));
  // `build --layers` keeps intermediate images: the ones this run makes are removed with its own.
  const danglingBefore = new Set((await buildah("images", "--quiet", "--filter", "dangling=true")).split("\n"));
  const runner = new CommandRunner(process.env, () => undefined);
  const images: string[] = [];
  try {
    const tarball = (await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work, repo])).stdout.trim().split("\n").at(-1) ?? "";
    const projectDir = join(work, "iris");
    await run("mkdir", ["-p", projectDir]);
    await writeFile(join(projectDir, "package.json"), JSON.stringify({ name: "image-size", version: "1.0.0", private: true, type: "module", dependencies: { "sagemaker-byoc-node": `file:../${tarball}` } }));
    await run("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: projectDir });
    const project = await readProject({ projectDir, handlersPath: undefined, modelPath: fileURLToPath(new URL("../examples/iris/model", import.meta.url)) });
    const results: Record<"kept" | "left out", Measured> = {} as Record<"kept" | "left out", Measured>;
    for (const variant of ["kept", "left out"] as const) {
      const context = await writeBuildContext(
        project,
        { outputDir: join(work, `context-${variant.replace(" ", "-")}`), target: "cpu", baseImage, nodeImage: baseImage, multiModel: false, revision: undefined, keepCliOnlyDependencies: variant === "kept" },
        runner,
      );
      const image = `localhost/sagemaker-byoc-image-size:${variant.replace(" ", "-")}`;
      images.push(image);
      await new BuildahEngine(runner).build({ contextDir: context.dir, tags: [image], buildArgs: context.buildArgs });
      results[variant] = await measure(image);
    }
    const before = results["kept"];
    const after = results["left out"];
    const table = [
      markers.start,
      `| the iris example's image | ${cliOnlyDependencies.join(" and ")} kept (before) | left out (now) | saved |`,
      "| --- | ---: | ---: | ---: |",
      `| size, as buildah reports it | ${before.size} | ${after.size} | |`,
      `| every file in the image | ${megabytes(before.totalBytes)} | ${megabytes(after.totalBytes)} | ${megabytes(before.totalBytes - after.totalBytes)} |`,
      `| /opt/program/node_modules | ${megabytes(before.modulesBytes)} | ${megabytes(after.modulesBytes)} | ${megabytes(before.modulesBytes - after.modulesBytes)} |`,
      "",
      `Measured by \`scripts/measure-image-size.ts\` (buildah ${(await run("buildah", ["--version"])).stdout.trim().split(" ")[2] ?? "?"}, the offline base, ${new Date().toISOString().slice(0, 10)}).`,
      markers.end,
    ].join("\n");
    const text = await readFile(docs, "utf8");
    const start = text.indexOf(markers.start);
    const end = text.indexOf(markers.end);
    if (start < 0 || end < start) throw new Error(`${docs} has no ${markers.start} ... ${markers.end} section`);
    await writeFile(docs, `${text.slice(0, start)}${table}${text.slice(end + markers.end.length)}`);
    console.log(table);
  } finally {
    for (const image of images) await buildah("rmi", "--force", image).catch(() => undefined);
    const dangling = (await buildah("images", "--quiet", "--filter", "dangling=true")).split("\n").filter((id) => id !== "" && !danglingBefore.has(id));
    if (dangling.length > 0) await buildah("rmi", "--force", ...dangling).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
