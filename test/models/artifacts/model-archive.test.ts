import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { create, list } from "tar";
import { ConfigurationError, ModelArchiveError } from "../../../src/errors.js";
import { defaultArchiveLimits, extractModelArchive, type ArchiveLimits } from "../../../src/models/artifacts/model-archive.js";
import { paxHeader, rawTar, rawTarGz, tarHeader, tarType, type RawTarEntry } from "./tar-fixtures.js";

let workDir: string;
let caseCount = 0;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "model-archive-test-"));
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

interface Case {
  archive: string;
  destination: string;
}

/** A fresh directory holding `model.tar.gz` with `bytes`, and a destination not created yet. */
async function newCase(bytes: Buffer): Promise<Case> {
  caseCount += 1;
  const dir = join(workDir, `case-${caseCount}`);
  await mkdir(dir);
  const archive = join(dir, "model.tar.gz");
  await writeFile(archive, bytes);
  return { archive, destination: join(dir, "extracted", "model") };
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Extracting `bytes` must fail with a ModelArchiveError whose message is the archive's path, a
 * colon and `problem`, and must leave neither the destination nor a temporary directory behind.
 */
async function assertRefused(bytes: Buffer, problem: string | RegExp, limits: Partial<ArchiveLimits> = {}): Promise<void> {
  const { archive, destination } = await newCase(bytes);
  await assert.rejects(extractModelArchive(archive, destination, { limits }), (error: unknown) => {
    assert.ok(error instanceof ModelArchiveError, `expected a ModelArchiveError, got ${String(error)}`);
    const prefix = `${archive}: `;
    assert.ok(error.message.startsWith(prefix), error.message);
    const rest = error.message.slice(prefix.length);
    if (typeof problem === "string") assert.equal(rest, problem);
    else assert.match(rest, problem);
    return true;
  });
  assert.deepEqual(await listOrEmpty(dirname(destination)), []);
}

/** Bytes this process read and wrote through system calls so far (Linux's /proc/self/io). */
async function processIo(): Promise<{ read: number; written: number }> {
  const text = await readFile("/proc/self/io", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1]);
  return { read: field("rchar"), written: field("wchar") };
}

/**
 * A gzip bomb of one `mebibytes`-MiB file: mostly zeros with a byte every 2 KiB, so it inflates
 * about 350 times, under tar's own 1000x guard. Built from one compressed MiB repeated as gzip
 * members (a gzip stream may hold several), so it costs nothing to make.
 */
function sparseBomb(mebibytes: number, files = 1): Buffer {
  const block = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < block.length; at += 2048) block[at] = ((at * 7919) & 0xff) || 1;
  const member = gzipSync(block);
  const parts: Buffer[] = [];
  for (let file = 0; file < files; file++) {
    parts.push(gzipSync(tarHeader({ path: `shard-${file}.bin`, declaredSize: mebibytes * 1024 * 1024 })));
    for (let mib = 0; mib < mebibytes; mib++) parts.push(member);
  }
  parts.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(parts);
}

/** Deterministic, poorly compressible bytes. */
function noise(length: number, seed: string): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; chunks.length * 32 < length; i += 1) chunks.push(createHash("sha256").update(`${seed}${i}`).digest());
  return Buffer.concat(chunks).subarray(0, length);
}

async function writeTree(root: string, files: Readonly<Record<string, Buffer | string>>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

async function packDirectory(source: string): Promise<Buffer> {
  const file = `${source}.tar.gz`;
  await create({ gzip: true, file, cwd: source, portable: true }, ["."]);
  return readFile(file);
}

async function countEntries(archive: string): Promise<number> {
  let entries = 0;
  await list({ file: archive, onReadEntry: () => (entries += 1) });
  return entries;
}

describe("extracting a well-formed archive", () => {
  test("extracts nested directories with every file byte-identical", async () => {
    const source = join(workDir, "nested-source");
    const longName = `${"tokenizer-".repeat(12)}.json`;
    const files = {
      "model.onnx": noise(300_000, "model"),
      "config/labels.json": '{"0":"setosa","1":"versicolor"}',
      "deep/a/b/c/weights.bin": noise(70_000, "weights"),
      "deep/empty.txt": "",
      [`deep/${longName}`]: "long names travel in pax headers",
    };
    await writeTree(source, files);
    await chmod(join(source, "deep/a/b/c/weights.bin"), 0o750);
    const { archive, destination } = await newCase(await packDirectory(source));

    const result = await extractModelArchive(archive, destination);

    assert.equal(result.destination, destination);
    assert.equal(result.reused, false);
    assert.equal(result.entries, await countEntries(archive));
    assert.equal(result.bytes, Object.values(files).reduce((total, content) => total + Buffer.byteLength(content), 0));
    for (const [path, content] of Object.entries(files)) {
      assert.deepEqual(await readFile(join(destination, path)), Buffer.from(content), path);
    }
    assert.equal((await stat(join(destination, "deep/a/b/c/weights.bin"))).mode & 0o777, 0o750);
  });

  test("keeps relative symbolic links that resolve inside the directory", async () => {
    const source = join(workDir, "symlink-source");
    await writeTree(source, { "versions/v2/model.onnx": "v2 weights", "shared/vocab.txt": "a\nb\n" });
    await symlink("versions/v2", join(source, "current"));
    await symlink("../../shared/vocab.txt", join(source, "versions/v2/vocab.txt"));
    const { archive, destination } = await newCase(await packDirectory(source));

    await extractModelArchive(archive, destination);

    assert.equal(await readlink(join(destination, "current")), "versions/v2");
    assert.equal(await readFile(join(destination, "current/model.onnx"), "utf8"), "v2 weights");
    assert.equal(await readFile(join(destination, "versions/v2/vocab.txt"), "utf8"), "a\nb\n");
  });

  test("keeps hard links to files extracted before them", async () => {
    const { archive, destination } = await newCase(
      rawTarGz([
        { path: "weights/a.bin", data: "shared weights" },
        { path: "alias.bin", type: tarType.hardLink, linkpath: "weights/a.bin" },
      ]),
    );

    await extractModelArchive(archive, destination);

    const [original, alias] = await Promise.all([stat(join(destination, "weights/a.bin")), stat(join(destination, "alias.bin"))]);
    assert.equal(alias.ino, original.ino);
    assert.equal(await readFile(join(destination, "alias.bin"), "utf8"), "shared weights");
  });

  test("applies pax extended headers, which are metadata", async () => {
    const { archive, destination } = await newCase(
      rawTarGz([paxHeader({ path: "renamed/by-pax.txt", mtime: "1700000000.5" }), { path: "short-name", data: "pax" }]),
    );

    await extractModelArchive(archive, destination);

    assert.equal(await readFile(join(destination, "renamed/by-pax.txt"), "utf8"), "pax");
  });

  test("drops setuid, setgid and sticky bits", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "tool", data: "#!/bin/sh\n", mode: 0o7755 }]));

    await extractModelArchive(archive, destination);

    assert.equal((await stat(join(destination, "tool"))).mode & 0o7777, 0o755);
  });
});

describe("refusing hostile entries", () => {
  test("refuses a symbolic link to an absolute path", async () => {
    await assertRefused(
      rawTarGz([{ path: "passwd", type: tarType.symlink, linkpath: "/etc/passwd" }]),
      'symbolic link "passwd" points outside the extraction directory (to "/etc/passwd")',
    );
  });

  test("refuses a relative symbolic link that climbs out", async () => {
    await assertRefused(
      rawTarGz([{ path: "config/secret", type: tarType.symlink, linkpath: "../../../etc/shadow" }]),
      'symbolic link "config/secret" points outside the extraction directory (to "../../../etc/shadow")',
    );
  });

  test("refuses a chain of links that escapes although each looks inside", async () => {
    // "here" resolves to the directory itself, so "here/.." is its parent.
    await assertRefused(
      rawTarGz([
        { path: "here", type: tarType.symlink, linkpath: "." },
        { path: "up", type: tarType.symlink, linkpath: "here/.." },
      ]),
      'symbolic link "up" points outside the extraction directory (to "here/..")',
    );
  });

  test("refuses a link chain completed by a later entry", async () => {
    await assertRefused(
      rawTarGz([
        { path: "up", type: tarType.symlink, linkpath: "here/.." },
        { path: "here", type: tarType.symlink, linkpath: "." },
      ]),
      'symbolic link "up" points outside the extraction directory (to "here/..")',
    );
  });

  test("resolves link names case-insensitively, as macOS file systems do", async () => {
    await assertRefused(
      rawTarGz([
        { path: "here", type: tarType.symlink, linkpath: "." },
        { path: "up", type: tarType.symlink, linkpath: "HERE/.." },
      ]),
      'symbolic link "up" points outside the extraction directory (to "HERE/..")',
    );
  });

  test("refuses a symbolic link loop", async () => {
    await assertRefused(
      rawTarGz([
        { path: "a", type: tarType.symlink, linkpath: "b" },
        { path: "b", type: tarType.symlink, linkpath: "a" },
      ]),
      'symbolic link "b" resolves through more than 40 symbolic links',
    );
  });

  test("refuses an entry written through a symbolic link", async () => {
    await assertRefused(
      rawTarGz([
        { path: "real/", type: tarType.directory },
        { path: "alias", type: tarType.symlink, linkpath: "real" },
        { path: "alias/model.onnx", data: "weights" },
      ]),
      'entry "alias/model.onnx" would be written through symbolic link "alias"',
    );
  });

  test("refuses hard links that point outside", async () => {
    await assertRefused(
      rawTarGz([{ path: "passwd", type: tarType.hardLink, linkpath: "/etc/passwd" }]),
      'hard link "passwd" points outside the extraction directory (to "/etc/passwd")',
    );
    await assertRefused(
      rawTarGz([{ path: "sub/escape", type: tarType.hardLink, linkpath: "../outside.bin" }]),
      'hard link "sub/escape" points outside the extraction directory (to "../outside.bin")',
    );
  });

  test("refuses a hard link to anything but a file extracted before it", async () => {
    await assertRefused(
      rawTarGz([
        { path: "alias.bin", type: tarType.hardLink, linkpath: "later.bin" },
        { path: "later.bin", data: "x" },
      ]),
      'hard link "alias.bin" points to "later.bin", which is not a file extracted before it',
    );
  });

  test("refuses an absolute path", async () => {
    await assertRefused(rawTarGz([{ path: "/etc/cron.d/evil", data: "* * * * * root sh" }]), 'entry "/etc/cron.d/evil" has an absolute path');
  });

  test("refuses paths with .. components", async () => {
    await assertRefused(rawTarGz([{ path: "../../etc/passwd", data: "x" }]), 'entry "../../etc/passwd" escapes the extraction directory');
    await assertRefused(rawTarGz([{ path: "models/../../x", data: "x" }]), 'entry "models/../../x" escapes the extraction directory');
    await assertRefused(rawTarGz([{ path: "models/../x", data: "x" }]), 'entry "models/../x" has a ".." component');
  });

  test("judges the path a pax header gives, not the one in the ustar header", async () => {
    await assertRefused(
      rawTarGz([paxHeader({ path: "../../root/.ssh/authorized_keys" }), { path: "innocent.txt", data: "ssh-ed25519 AAAA" }]),
      'entry "../../root/.ssh/authorized_keys" escapes the extraction directory',
    );
  });

  test("refuses device files and FIFOs", async () => {
    await assertRefused(
      rawTarGz([{ path: "dev/null", type: tarType.characterDevice }]),
      'entry "dev/null" is a character device; only files, directories, symbolic links and hard links are allowed',
    );
    await assertRefused(
      rawTarGz([{ path: "dev/sda", type: tarType.blockDevice }]),
      'entry "dev/sda" is a block device; only files, directories, symbolic links and hard links are allowed',
    );
    await assertRefused(
      rawTarGz([{ path: "pipe", type: tarType.fifo }]),
      'entry "pipe" is a FIFO; only files, directories, symbolic links and hard links are allowed',
    );
  });

  test("refuses an entry that appears twice", async () => {
    await assertRefused(
      rawTarGz([
        { path: "model.onnx", data: "first" },
        { path: "model.onnx", type: tarType.symlink, linkpath: "other.onnx" },
      ]),
      'entry "model.onnx" appears more than once',
    );
  });

  test("refuses an entry named like the toolkit's marker file", async () => {
    await assertRefused(
      rawTarGz([{ path: "./.sagemaker-byoc-extraction.json", data: "{}" }]),
      'entry "./.sagemaker-byoc-extraction.json" uses a name the toolkit reserves for its own files',
    );
  });
});

describe("limits", () => {
  test("refuses more entries than maxEntries", async () => {
    const entries = ["f0", "f1", "f2", "f3", "f4"].map((path) => ({ path, data: path }));
    await assertRefused(rawTarGz(entries), 'entry "f3" is past the limit of 3 entries (maxEntries)', { maxEntries: 3 });
  });

  test("refuses a path longer than maxPathLength", async () => {
    await assertRefused(
      rawTarGz([{ path: "short", data: "" }, { path: "a-rather-long-name.onnx", data: "" }]),
      'entry "a-rather-long-name.onnx" has a path longer than 16 bytes (maxPathLength)',
      { maxPathLength: 16 },
    );
  });

  test("refuses more bytes than maxBytes, at the first entry past the limit", async () => {
    const entries = [0, 1, 2, 3].map((i) => ({ path: `shard-${i}.bin`, data: noise(400 * 1024, `shard${i}`) }));
    await assertRefused(
      rawTarGz(entries),
      'entry "shard-2.bin" (409600 bytes) would bring the extracted size past the limit of 1048576 bytes (maxBytes)',
      { maxBytes: 1024 * 1024 },
    );
  });

  test("stops a highly compressed archive at the first entry past maxBytes", async () => {
    // Mostly zeros: about 100 times smaller compressed, under tar's own 1000x bomb guard.
    const data = Buffer.alloc(4 * 1024 * 1024);
    noise(40 * 1024, "sparse").copy(data, 1024 * 1024);
    const entries = Array.from({ length: 16 }, (_, i) => ({ path: `layer-${String(i).padStart(2, "0")}.bin`, data }));
    const archive = rawTarGz(entries);
    assert.ok(archive.length < 1024 * 1024, `the archive should be small, got ${archive.length} bytes`);

    await assertRefused(
      archive,
      'entry "layer-02.bin" (4194304 bytes) would bring the extracted size past the limit of 10485760 bytes (maxBytes)',
      { maxBytes: 10 * 1024 * 1024 },
    );
  });

  test("refuses a huge declared size at its header, before reading its data", async () => {
    // Only 4 KiB of the declared 4 GiB follow: reading on would fail as truncated instead.
    const archive = gzipSync(Buffer.concat([tarHeader({ path: "huge.bin", declaredSize: 4 * 1024 ** 3 }), Buffer.alloc(4096)]));
    await assertRefused(
      archive,
      'entry "huge.bin" (4294967296 bytes) would bring the extracted size past the limit of 1048576 bytes (maxBytes)',
      { maxBytes: 1024 * 1024 },
    );
  });

  test("has documented defaults: 10 GiB, 10,000 entries, 1,024-byte paths, 100 times the archive past 64 MiB", () => {
    assert.deepEqual({ ...defaultArchiveLimits }, { maxBytes: 10 * 1024 ** 3, maxEntries: 10_000, maxPathLength: 1024, maxExpansionRatio: 100 });
  });

  test("refuses 50,000 entries at the header past maxEntries, having read a fraction of the archive and written nothing", { skip: process.platform !== "linux" && "reads /proc/self/io" }, async () => {
    // The attack: 200,000 empty files, refused only after 44 s once 100,000 had been written.
    const bytes = rawTarGz(Array.from({ length: 50_000 }, (_, index) => ({ path: `d${index % 100}/f${index}` })));
    const before = await processIo();
    await assertRefused(bytes, 'entry "d0/f1000" is past the limit of 1000 entries (maxEntries)', { maxEntries: 1000 });
    const after = await processIo();
    // The archive is written once by newCase (counted), then read: only its first chunks.
    assert.ok(after.read - before.read < bytes.length / 4, `read ${after.read - before.read} of ${bytes.length} bytes`);
    assert.ok(after.written - before.written < bytes.length + 64 * 1024, `wrote ${after.written - before.written - bytes.length} bytes besides the archive`);
  });

  test("refuses a 256 MiB gzip bomb under tar's 1000x guard at its header, having read and written almost nothing", { skip: process.platform !== "linux" && "reads /proc/self/io" }, async () => {
    const bomb = sparseBomb(256);
    assert.ok(bomb.length < 1024 * 1024 && bomb.length * 1000 > 256 * 1024 * 1024, `a ${bomb.length}-byte bomb inflating under 1000 times`);
    const before = await processIo();
    await assertRefused(bomb, `entry "shard-0.bin" (268435456 bytes) would bring the extracted size past 100 times the archive's ${bomb.length} bytes (maxExpansionRatio), like a decompression bomb`);
    const after = await processIo();
    assert.ok(after.read - before.read < 256 * 1024, `read ${after.read - before.read} bytes`);
    assert.ok(after.written - before.written < bomb.length + 64 * 1024, `wrote ${after.written - before.written - bomb.length} bytes besides the archive`);
  });

  test("refuses a bomb spread over many files once they pass 100 times the archive, having written no more than that", { skip: process.platform !== "linux" && "reads /proc/self/io" }, async () => {
    const bomb = sparseBomb(8, 48);
    const budget = 100 * bomb.length;
    assert.ok(budget > 64 * 1024 * 1024 && budget < 48 * 8 * 1024 * 1024, `the ratio decides for this ${bomb.length}-byte bomb`);
    const before = await processIo();
    await assertRefused(bomb, /^entry "shard-\d+\.bin" \(8388608 bytes\) would bring the extracted size past 100 times the archive's \d+ bytes \(maxExpansionRatio\)/);
    const after = await processIo();
    assert.ok(after.written - before.written - bomb.length <= budget, `wrote ${after.written - before.written - bomb.length} bytes, over the ${budget}-byte budget`);
  });

  test("lets any archive expand to 64 MiB, whatever its ratio, and honours a raised maxExpansionRatio", async () => {
    const small = sparseBomb(16);
    assert.ok(small.length * 100 < 16 * 1024 * 1024);
    const { archive, destination } = await newCase(small);
    assert.equal((await extractModelArchive(archive, destination)).bytes, 16 * 1024 * 1024);
    const large = await newCase(sparseBomb(96));
    assert.equal((await extractModelArchive(large.archive, large.destination, { limits: { maxExpansionRatio: 800 } })).bytes, 96 * 1024 * 1024);
  });

  test("refuses a gzip bomb that inflates over 1000 times, whatever maxBytes allows", async () => {
    const bomb = rawTarGz([{ path: "zeros.bin", data: Buffer.alloc(64 * 1024 * 1024) }]);
    assert.ok(bomb.length < 128 * 1024, `the bomb should be small, got ${bomb.length} bytes`);

    await assertRefused(bomb, /^inflates to over 1000 times its compressed size, like a decompression bomb \(max decompression ratio exceeded/);
  });

  test("rejects limits that are not positive integers", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "a", data: "a" }]));
    await assert.rejects(
      extractModelArchive(archive, destination, { limits: { maxBytes: 0 } }),
      new ConfigurationError("The model archive limit maxBytes must be a positive integer, got 0"),
    );
  });
});

describe("refusing broken archives", () => {
  const payload = rawTar([
    { path: "labels.txt", data: "setosa\nversicolor\nvirginica\n".repeat(50) },
    { path: "weights.bin", data: noise(20_000, "broken") },
  ]);

  test("refuses corrupt gzip data", async () => {
    const archive = gzipSync(payload);
    archive[archive.length - 6] = (archive.at(-6) ?? 0) ^ 0xff; // inside the CRC-32 trailer
    await assertRefused(archive, /^the gzip data is corrupt or truncated \(zlib: incorrect data check\)$/);
  });

  test("refuses a truncated gzip stream", async () => {
    const archive = gzipSync(payload);
    await assertRefused(archive.subarray(0, archive.length / 2), /^the gzip data is corrupt or truncated \(zlib: unexpected end of file\)$/);
  });

  test("refuses a tar cut inside an entry's data", async () => {
    await assertRefused(gzipSync(payload.subarray(0, 3 * 512 + 1024)), /^is truncated inside entry "weights\.bin" \(TAR_BAD_ARCHIVE: Truncated input/);
  });

  test("refuses a tar cut between entries, without its end-of-archive marker", async () => {
    await assertRefused(gzipSync(payload.subarray(0, payload.length - 1024)), "ends before its end-of-archive marker: the archive is truncated");
  });

  test("refuses gzip-compressed data that is not a tar archive", async () => {
    await assertRefused(gzipSync("name,score\nalice,1\n".repeat(100)), "is not a valid tar archive (TAR_ENTRY_INVALID: checksum failure)");
  });

  test("refuses a file that is neither gzip nor tar", async () => {
    await assertRefused(Buffer.from("PK\u0003\u0004 a zip file"), "is not a valid tar archive (TAR_BAD_ARCHIVE: Unrecognized archive format)");
  });

  test("reports a file system failure as an archive error", async () => {
    // Linux file names stop at 255 bytes; the path is within maxPathLength.
    await assertRefused(rawTarGz([paxHeader({ path: `${"n".repeat(300)}.onnx` }), { path: "x", data: "" }]), /^could not be extracted \(ENAMETOOLONG/);
  });

  test("names the archive when it cannot be read", async () => {
    const missing = join(workDir, "missing", "model.tar.gz");
    await assert.rejects(extractModelArchive(missing, join(workDir, "missing-out")), (error: unknown) => {
      assert.ok(error instanceof ModelArchiveError);
      assert.match(error.message, new RegExp(`^${missing.replaceAll(".", "\\.")}: cannot be read \\(ENOENT`));
      return true;
    });
  });
});

describe("atomic extraction", () => {
  test("a failure after files were written leaves no destination and no temporary directory", async () => {
    const { archive, destination } = await newCase(
      rawTarGz([
        { path: "model.onnx", data: noise(200_000, "partial") },
        { path: "labels/", type: tarType.directory },
        { path: "labels/en.txt", data: "cat\ndog\n" },
        { path: "labels/pipe", type: tarType.fifo },
      ]),
    );

    await assert.rejects(extractModelArchive(archive, destination), ModelArchiveError);

    assert.deepEqual(await readdir(dirname(destination)), []);
  });

  test("a failed re-extraction keeps the previous extraction", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "v1" }]));
    await extractModelArchive(archive, destination);
    await writeFile(archive, rawTarGz([{ path: "model.onnx", data: "v2" }, { path: "../escape", data: "x" }]));

    await assert.rejects(extractModelArchive(archive, destination), ModelArchiveError);

    assert.equal(await readFile(join(destination, "model.onnx"), "utf8"), "v1");
    assert.deepEqual(await readdir(dirname(destination)), ["model"]);
  });

  test("removes partial extractions a crashed start left behind", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "weights" }]));
    await writeTree(dirname(destination), { "model.partial-Ab12Cd/model.onnx": "half", "model.old-0a1b2c3d/model.onnx": "old" });

    await extractModelArchive(archive, destination);

    assert.deepEqual(await readdir(dirname(destination)), ["model"]);
  });

  test("fills an existing empty destination directory", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "weights" }]));
    await mkdir(destination, { recursive: true });

    await extractModelArchive(archive, destination);

    assert.equal(await readFile(join(destination, "model.onnx"), "utf8"), "weights");
  });

  test("refuses to replace a directory it did not create, and leaves it alone", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "weights" }]));
    await writeTree(destination, { "notes.txt": "someone's files" });

    await assert.rejects(extractModelArchive(archive, destination), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError && !(error instanceof ModelArchiveError));
      assert.equal(
        error.message,
        `The model extraction directory ${destination} already exists and does not hold an extracted model archive; remove it or choose another extraction directory`,
      );
      return true;
    });
    assert.deepEqual(await readdir(destination), ["notes.txt"]);
  });
});

describe("reusing an earlier extraction", () => {
  test("reuses the extraction of an unchanged archive without writing", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "weights" }]));
    const first = await extractModelArchive(archive, destination);
    const extractedBefore = await lstat(join(destination, "model.onnx"));
    await writeFile(join(destination, "sentinel"), "survives only if nothing is re-extracted");

    const second = await extractModelArchive(archive, destination);

    assert.deepEqual(second, { ...first, reused: true });
    const extractedAfter = await lstat(join(destination, "model.onnx"));
    assert.equal(extractedAfter.ino, extractedBefore.ino);
    assert.equal(extractedAfter.mtimeMs, extractedBefore.mtimeMs);
    assert.equal(await readFile(join(destination, "sentinel"), "utf8"), "survives only if nothing is re-extracted");
  });

  test("logs that the extraction was reused", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "weights" }]));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ base: null }, sink);

    await extractModelArchive(archive, destination, { log });
    await extractModelArchive(archive, destination, { log });

    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.deepEqual(messages, [
      "Extracting the model archive",
      "Extracted the model archive",
      "Reusing the model archive extracted by an earlier start: it is unchanged",
    ]);
  });

  test("extracts a changed archive again and swaps it in", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "v1" }, { path: "old-only.txt", data: "x" }]));
    await extractModelArchive(archive, destination);
    await writeFile(join(destination, "sentinel"), "from the first extraction");
    await writeFile(archive, rawTarGz([{ path: "model.onnx", data: "v2, larger" }]));

    const result = await extractModelArchive(archive, destination);

    assert.equal(result.reused, false);
    assert.deepEqual((await readdir(destination)).sort(), [".sagemaker-byoc-extraction.json", "model.onnx"]);
    assert.equal(await readFile(join(destination, "model.onnx"), "utf8"), "v2, larger");
    assert.deepEqual(await readdir(dirname(destination)), ["model"]);
  });

  test("extracts again when the content changed but size and mtime did not", async () => {
    const { archive, destination } = await newCase(rawTarGz([{ path: "model.onnx", data: "AAAA" }]));
    await utimes(archive, 1_700_000_000, 1_700_000_000);
    await extractModelArchive(archive, destination);
    const before = await stat(archive);
    await writeFile(archive, rawTarGz([{ path: "model.onnx", data: "BBBB" }]));
    await utimes(archive, 1_700_000_000, 1_700_000_000);
    const after = await stat(archive);
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeMs, before.mtimeMs);

    const result = await extractModelArchive(archive, destination);

    assert.equal(result.reused, false);
    assert.equal(await readFile(join(destination, "model.onnx"), "utf8"), "BBBB");
  });

  test("records the archive's SHA-256 in the marker", async () => {
    const bytes = rawTarGz([{ path: "model.onnx", data: "weights" }]);
    const { archive, destination } = await newCase(bytes);

    await extractModelArchive(archive, destination);

    const marker = JSON.parse(await readFile(join(destination, ".sagemaker-byoc-extraction.json"), "utf8")) as { sha256: string };
    assert.equal(marker.sha256, createHash("sha256").update(bytes).digest("hex"));
  });
});

// Keeps the fixture types honest: a hand-written header must read back as tar sees it.
test("hand-written fixtures are valid tar", async () => {
  const entries: RawTarEntry[] = [{ path: "dir/", type: tarType.directory }, { path: "dir/file.txt", data: "hello" }];
  const { archive } = await newCase(rawTarGz(entries));
  const seen: string[] = [];
  await list({ file: archive, onReadEntry: (entry) => seen.push(`${entry.type}:${entry.path}:${entry.size}`) });
  assert.deepEqual(seen, ["Directory:dir/:0", "File:dir/file.txt:5"]);
});
