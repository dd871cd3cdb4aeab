import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { compileHandlers, rewriteTypeScriptSpecifiers } from "../../src/build/compile-handlers.js";
import { HandlersCompileError } from "../../src/build/errors.js";

const root = await mkdtemp(join(tmpdir(), "byoc-compile-"));
after(() => rm(root, { recursive: true, force: true }));

let count = 0;
async function codeFolder(files: Record<string, string>): Promise<{ codeDir: string; outDir: string }> {
  const base = join(root, `c${count++}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(base, "code", path, ".."), { recursive: true });
    await writeFile(join(base, "code", path), content);
  }
  return { codeDir: join(base, "code"), outDir: join(base, "out") };
}

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1)).sort();
}

test("TypeScript handlers compile to JavaScript that runs as the source did, with source maps", async () => {
  const { codeDir, outDir } = await codeFolder({
    "inference.ts": [
      'import type { RequestContext } from "sagemaker-byoc-node";',
      'import { scale, Unit } from "./lib/scale.ts";',
      'import { offset } from "./offset.js";',
      "export function inputFn(body: Buffer, _contentType: string, _ctx: RequestContext): number[] {",
      "  return (JSON.parse(body.toString()) as number[]).map((x) => scale(x, Unit.Double) + offset);",
      "}",
      "",
    ].join("\n"),
    "lib/scale.ts": "export enum Unit { Single = 1, Double = 2 }\nexport const scale = (x: number, unit: Unit): number => x * unit;\n",
    "offset.ts": "export const offset: number = 1;\n",
    "types.d.ts": "export interface Nothing {}\n",
    "labels.json": '["setosa"]',
    ".env": "SECRET=1",
    "node_modules/x/index.js": "",
    "model/big.onnx": "excluded",
  });
  const compiled = await compileHandlers({ codeDir, entry: join(codeDir, "inference.ts"), outDir, tsconfigRaw: "{ /* comments allowed */ }", packageType: "module", exclude: [join(codeDir, "model")] });
  assert.deepEqual(compiled, { entry: "inference.js", compiled: 3, copied: 1 });
  assert.deepEqual(await listTree(outDir), ["inference.js", "inference.js.map", "labels.json", "lib/scale.js", "lib/scale.js.map", "offset.js", "offset.js.map"]);
  const code = await readFile(join(outDir, "inference.js"), "utf8");
  assert.doesNotMatch(code, /sagemaker-byoc-node/, "type-only imports are elided, as tsx does");
  assert.match(code, /from "\.\/lib\/scale\.js"/);
  assert.match(code, /\/\/# sourceMappingURL=inference\.js\.map\n$/);
  assert.equal((JSON.parse(await readFile(join(outDir, "inference.js.map"), "utf8")) as { sources: string[] }).sources[0], "inference.ts");
  assert.equal((await stat(join(outDir, "inference.js"))).mode & 0o777, 0o644);
  const handlers = (await import(pathToFileURL(join(outDir, "inference.js")).href)) as { inputFn: (body: Buffer) => number[] };
  assert.deepEqual(handlers.inputFn(Buffer.from("[1, 2.5]")), [3, 6]);
});

test(".mts and .cts keep their module kind; JavaScript handlers are copied untouched", async () => {
  const { codeDir, outDir } = await codeFolder({
    "inference.mts": 'import helper from "./helper.cts";\nexport const predictFn = (x: number): number => helper(x);\n',
    "helper.cts": "module.exports = (x: number): number => x + 1;\n",
    "plain.js": "export const untouched = 1; // as written\n",
  });
  const compiled = await compileHandlers({ codeDir, entry: join(codeDir, "inference.mts"), outDir, tsconfigRaw: undefined, packageType: undefined, exclude: [] });
  assert.equal(compiled.entry, "inference.mjs");
  assert.match(await readFile(join(outDir, "inference.mjs"), "utf8"), /from "\.\/helper\.cjs"/);
  assert.equal(await readFile(join(outDir, "plain.js"), "utf8"), "export const untouched = 1; // as written\n");
  const handlers = (await import(pathToFileURL(join(outDir, "inference.mjs")).href)) as { predictFn: (x: number) => number };
  assert.equal(handlers.predictFn(41), 42);
});

for (const packageType of ["commonjs", undefined] as const) {
  test(`in a ${packageType ?? "type-less"} package, ESM handlers become CommonJS, as tsx would load them`, async () => {
    const { codeDir, outDir } = await codeFolder({
      "inference.ts": 'import { join } from "node:path";\nexport function modelFn(dir: string): string {\n  return join(dir, "model.onnx");\n}\nexport const here: string = __dirname;\n',
      "esm-helper.mts": "export const esm: boolean = true;\n",
      "cjs-helper.cts": "export const cjs: boolean = true;\n",
    });
    await compileHandlers({ codeDir, entry: join(codeDir, "inference.ts"), outDir, tsconfigRaw: undefined, packageType, exclude: [] });
    const compiled = await readFile(join(outDir, "inference.js"), "utf8");
    assert.match(compiled, /require\("node:path"\)/);
    assert.doesNotMatch(compiled, /^export /m);
    assert.match(await readFile(join(outDir, "esm-helper.mjs"), "utf8"), /^export \{\s*esm\s*\};$/m, ".mts stays ESM");
    assert.match(await readFile(join(outDir, "cjs-helper.cjs"), "utf8"), /module\.exports/, ".cts is CommonJS");
    await writeFile(join(outDir, "package.json"), JSON.stringify(packageType === undefined ? {} : { type: packageType }));
    const handlers = (await import(pathToFileURL(join(outDir, "inference.js")).href)) as { modelFn: (dir: string) => string; here: string };
    assert.equal(handlers.modelFn("/opt/ml/model"), "/opt/ml/model/model.onnx", "named exports survive for import()");
    assert.equal(handlers.here, outDir, "__dirname works, as it does under tsx");
  });
}

test("a syntax error fails the build with the file, line and column of every error", async () => {
  const { codeDir, outDir } = await codeFolder({
    "inference.ts": "export const ok = 1;\n",
    "broken.ts": "export function f(x: number {\n  return x;\n}\n",
    "also-broken.ts": "const y: = 2;\n",
  });
  await assert.rejects(compileHandlers({ codeDir, entry: join(codeDir, "inference.ts"), outDir, tsconfigRaw: undefined, packageType: undefined, exclude: [] }), (error: Error) => {
    assert.ok(error instanceof HandlersCompileError);
    assert.match(error.message, /^Cannot compile the handlers:/);
    assert.match(error.message, /broken\.ts:1:29: Expected "\)" but found "\{"/);
    assert.match(error.message, /also-broken\.ts:1:10: Unexpected "="/);
    assert.match(error.message, /const y: = 2;/, "the offending line is shown");
    return true;
  });
});

test("two files that would compile to the same name are refused", async () => {
  const { codeDir, outDir } = await codeFolder({ "inference.ts": "export {};", "inference.js": "export {};" });
  await assert.rejects(
    compileHandlers({ codeDir, entry: join(codeDir, "inference.ts"), outDir, tsconfigRaw: undefined, packageType: undefined, exclude: [] }),
    (error: Error) => error instanceof HandlersCompileError && /inference\.js and .*inference\.ts would both become inference\.js/.test(error.message),
  );
});

test("linked files and folders are followed", async () => {
  const { codeDir, outDir } = await codeFolder({ "inference.js": "export {};" });
  const shared = join(root, "shared");
  await mkdir(shared, { recursive: true });
  await writeFile(join(shared, "util.ts"), "export const u: number = 1;\n");
  await symlink(shared, join(codeDir, "shared"));
  await symlink(join(shared, "util.ts"), join(codeDir, "linked.ts"));
  await compileHandlers({ codeDir, entry: join(codeDir, "inference.js"), outDir, tsconfigRaw: undefined, packageType: undefined, exclude: [] });
  assert.deepEqual(await listTree(outDir), ["inference.js", "linked.js", "linked.js.map", "shared/util.js", "shared/util.js.map"]);
});

test("TypeScript extensions in relative specifiers are rewritten; packages and declarations are not", () => {
  const source = [
    'import a from "./a.ts";',
    "import './side.mts';",
    'export * from "../b.cts";',
    'const c = await import( "./c.ts" );',
    'const d = require("./d.ts");',
    'import e from "e.ts";',
    'import type { F } from "./f.d.ts";',
  ].join("\n");
  assert.equal(
    rewriteTypeScriptSpecifiers(source),
    [
      'import a from "./a.js";',
      "import './side.mjs';",
      'export * from "../b.cjs";',
      'const c = await import( "./c.js" );',
      'const d = require("./d.js");',
      'import e from "e.ts";',
      'import type { F } from "./f.d.ts";',
    ].join("\n"),
  );
});
