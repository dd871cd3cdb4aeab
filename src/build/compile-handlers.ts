import { transform } from "esbuild";
import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { HandlersCompileError } from "./errors.js";

/**
 * The compiled code folder.
 *
 * @example
 * ```ts
 * const { entry, compiled, copied }: CompiledHandlers = await compileHandlers({ ... });
 * entry; // "inference.js"
 * ```
 */
export interface CompiledHandlers {
  /** The handlers file's path in the output folder, relative to it. */
  readonly entry: string;
  /** TypeScript files compiled to JavaScript. */
  readonly compiled: number;
  /** Other files copied as they are. */
  readonly copied: number;
}

/**
 * What {@link compileHandlers} compiles and where to.
 *
 * @example
 * ```ts
 * const job: CompileJob = { codeDir: "/work/app/code", entry: "/work/app/code/inference.ts", outDir: "/tmp/ctx/program/code", tsconfigRaw: undefined, exclude: [] };
 * ```
 */
export interface CompileJob {
  readonly codeDir: string;
  /** The handlers file, inside `codeDir`. */
  readonly entry: string;
  readonly outDir: string;
  /** The project's `tsconfig.json` text; its compiler options (decorators, JSX, class fields...) apply. */
  readonly tsconfigRaw: string | undefined;
  /** `type` of the project's package.json: how Node will load the compiled `.js` files. */
  readonly packageType: "module" | "commonjs" | undefined;
  /** Absolute paths under `codeDir` to leave out (the build output, a model folder). */
  readonly exclude: readonly string[];
}

interface TransformFailure {
  readonly errors?: readonly { text: string; location: { line: number; column: number; lineText: string } | null }[];
}

const typeScriptFile = /\.([cm]?)ts$/;
const declarationFile = /\.d\.[cm]?ts$/;

/**
 * Compiles the code folder into `outDir`: `.ts`, `.mts` and `.cts` become `.js`, `.mjs` and
 * `.cjs` with a source map beside each (stack traces point at the TypeScript lines), declaration
 * files are dropped, every other file is copied as it is. `node_modules` and dot-files stay out.
 *
 * The compiler is esbuild, the one tsx runs on: `serve` compiles TypeScript handlers on import
 * with tsx, so compiling ahead of time with the same transform gives the image the code the user
 * ran locally (type-only imports elided the same way), and a syntax error fails the build, not the
 * endpoint (tsx and the toolkit share one esbuild). Relative imports written with a TypeScript extension (`./util.ts`) are rewritten to
 * the compiled name. Throws {@link HandlersCompileError} with the file, line and column of every error.
 *
 * @example
 * ```ts
 * const { entry } = await compileHandlers({ codeDir: "code", entry: "code/inference.ts", outDir: "ctx/program/code", tsconfigRaw: undefined, exclude: [] });
 * ```
 */
export async function compileHandlers(job: CompileJob): Promise<CompiledHandlers> {
  const files = await listFiles(job.codeDir, new Set(job.exclude.map((path) => resolve(path))));
  const outputs = new Map<string, string>();
  const failures: string[] = [];
  let compiled = 0;
  for (const file of files) {
    const path = relative(job.codeDir, file);
    if (declarationFile.test(path)) continue;
    const outPath = compiledName(path);
    const clash = outputs.get(outPath);
    if (clash !== undefined) {
      throw new HandlersCompileError(`${join(job.codeDir, clash)} and ${file} would both become ${outPath} in the image; rename one`);
    }
    outputs.set(outPath, path);
    const target = join(job.outDir, outPath);
    await mkdir(dirname(target), { recursive: true });
    if (outPath === path) {
      await copyFile(file, target);
      continue;
    }
    try {
      await compileFile(file, target, { tsconfigRaw: job.tsconfigRaw, format: moduleFormat(outPath, job.packageType) });
      compiled++;
    } catch (error) {
      failures.push(...describeFailure(file, error));
    }
  }
  if (failures.length > 0) throw new HandlersCompileError(`Cannot compile the handlers:\n${failures.map((line) => `  ${line}`).join("\n")}`);
  const entry = compiledName(relative(job.codeDir, job.entry));
  return { entry, compiled, copied: outputs.size - compiled };
}

async function compileFile(
  file: string,
  target: string,
  options: { tsconfigRaw: string | undefined; format: "esm" | "cjs" },
): Promise<void> {
  const source = await readFile(file, "utf8");
  const result = await transform(source, {
    loader: "ts",
    sourcefile: basename(file),
    sourcemap: "external",
    target: "node22",
    format: options.format,
    ...(options.tsconfigRaw === undefined ? {} : { tsconfigRaw: options.tsconfigRaw }),
  });
  const mapName = `${basename(target)}.map`;
  await writeFile(target, `${rewriteTypeScriptSpecifiers(result.code)}//# sourceMappingURL=${mapName}\n`);
  await writeFile(`${target}.map`, result.map);
  await chmod(target, 0o644);
}

/**
 * Rewrites relative module specifiers that name a TypeScript file (`"./util.ts"`, allowed by
 * `allowImportingTsExtensions`) to the compiled file's name, in static and dynamic imports,
 * re-exports and `require` calls.
 *
 * @example
 * ```ts
 * rewriteTypeScriptSpecifiers(`import { a } from "./a.ts";`); // `import { a } from "./a.js";`
 * ```
 */
export function rewriteTypeScriptSpecifiers(code: string): string {
  return code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(["'])(\.{1,2}\/[^"'\n]*?)(?<!\.d)\.([cm]?)ts\2/g,
    (_match, keyword: string, quote: string, path: string, flavour: string) => `${keyword}${quote}${path}.${flavour}js${quote}`,
  );
}

/**
 * The module format Node will load the compiled file as, so import and export syntax is turned
 * into what it expects, as tsx does at run time: `.mjs` ESM, `.cjs` CommonJS, `.js` as the
 * package's `type` says; without a `type`, the syntax is kept and Node detects it.
 */
function moduleFormat(outPath: string, packageType: "module" | "commonjs" | undefined): "esm" | "cjs" {
  if (outPath.endsWith(".mjs")) return "esm";
  if (outPath.endsWith(".cjs")) return "cjs";
  // A package without "type" is CommonJS to Node, and tsx (what `serve` runs) compiles its .ts
  // files to CommonJS too: `import` syntax and `__dirname` both work there, so they must here.
  return packageType === "module" ? "esm" : "cjs";
}

function compiledName(path: string): string {
  return path.replace(typeScriptFile, ".$1js");
}

function describeFailure(file: string, error: unknown): string[] {
  const messages = (error as TransformFailure).errors;
  if (messages === undefined || messages.length === 0) return [`${file}: ${(error as Error).message}`];
  return messages.map(({ text, location }) =>
    location === null ? `${file}: ${text}` : `${file}:${location.line}:${location.column + 1}: ${text}\n      ${location.lineText.trim()}`,
  );
}

/** Every file under `dir`, skipping `node_modules`, dot-files and the excluded paths. */
async function listFiles(dir: string, exclude: ReadonlySet<string>): Promise<string[]> {
  const files: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith(".") || entry.name === "node_modules" || exclude.has(path)) continue;
    const kind = entry.isSymbolicLink() ? await stat(path) : entry;
    if (kind.isDirectory()) files.push(...(await listFiles(path, exclude)));
    else if (kind.isFile()) files.push(path);
  }
  return files;
}
