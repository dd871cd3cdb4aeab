import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function sourceFolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return [`${relative(root, path)}/`, ...sourceFolders(path)];
    });
}

test("the README's folder map names every folder of src/, and only those", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const map = readme.slice(readme.indexOf("<!-- layout:start -->"), readme.indexOf("<!-- layout:end -->"));
  assert.ok(map.length > 0, "the README has no <!-- layout:start --> … <!-- layout:end --> section");
  const named = new Set([...map.matchAll(/`(src\/[^`]*\/)`/g)].map((match) => match[1]));
  assert.deepEqual([...named].sort(), sourceFolders(join(root, "src")).sort());
});
