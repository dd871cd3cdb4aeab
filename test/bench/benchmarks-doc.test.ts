import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { replaceSection, writeSection } from "../../bench/benchmarks-doc.js";

const otherSections = [
  "# Benchmarks",
  "",
  "<!-- bench:batch-transform -->",
  "## Batch transform",
  "| a | b |",
  "<!-- /bench:batch-transform -->",
  "",
  "<!-- bench:serving -->",
  "old serving figures",
  "<!-- /bench:serving -->",
  "",
  "<!-- bench:mme -->",
  "## MME",
  "<!-- /bench:mme -->",
  "",
].join("\n");

describe("docs/benchmarks.md sections", () => {
  test("replacing a section rewrites only the text between its own markers", () => {
    const updated = replaceSection(otherSections, "serving", "## Serving\nnew figures\n");
    assert.equal(updated, otherSections.replace("old serving figures", "## Serving\nnew figures"));
  });

  test("a section that is not there yet is appended after the others", () => {
    const updated = replaceSection("# Benchmarks\n\n<!-- bench:mme -->\nx\n<!-- /bench:mme -->\n", "serving", "y");
    assert.equal(updated, "# Benchmarks\n\n<!-- bench:mme -->\nx\n<!-- /bench:mme -->\n\n<!-- bench:serving -->\ny\n<!-- /bench:serving -->\n");
  });

  test("an opening marker without its closing one is refused rather than guessed at", () => {
    assert.throws(() => replaceSection("<!-- bench:serving -->\nhalf a section\n", "serving", "y"), /has no <!-- \/bench:serving -->/);
  });

  test("writing twice leaves one copy of the section and the others byte for byte", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-doc-"));
    try {
      const path = join(dir, "benchmarks.md");
      await writeFile(path, otherSections);
      writeSection(path, "serving", "first");
      writeSection(path, "serving", "second");
      assert.equal(await readFile(path, "utf8"), otherSections.replace("old serving figures", "second"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a missing file is created with a title and the section", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bench-doc-"));
    try {
      const path = join(dir, "docs", "benchmarks.md");
      writeSection(path, "serving", "figures");
      const text = await readFile(path, "utf8");
      assert.match(text, /^# Benchmarks\n/);
      assert.ok(text.endsWith("<!-- bench:serving -->\nfigures\n<!-- /bench:serving -->\n"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
