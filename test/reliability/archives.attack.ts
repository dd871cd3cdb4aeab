import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { createGzip, gzipSync } from "node:zlib";
import { tarEntry, tarHeader } from "../models/artifacts/tar-fixtures.js";
import { duration, mebibytes, spawnNode, type Attack, type AttackResult } from "./harness.js";

const entryCount = 200_000;
const bombBytes = 2 * 1024 ** 3;
/**
 * CPU time (user and system) of the extracting process, far from the 44 s the attack cost: files
 * are written as the archive streams by, so up to maxEntries (10,000) may be created before the
 * refusal when entries compress poorly (a few seconds), none when they compress well.
 */
const maxRefusalCpuMs = 10_000;

interface Extraction {
  readonly error: string | undefined;
  readonly ms: number;
  readonly cpuMs: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/**
 * Two hostile model.tar.gz files: 200,000 entries (refused only after 44 s, once 100,000 files
 * had been written) and a 2 GiB gzip bomb (unpacked fully under the 10 GiB default).
 */
export const attack: Attack = {
  name: "model archives: 200,000 entries and a 2 GiB gzip bomb",
  description:
    "A model.tar.gz of 200,000 empty files, one of 200,000 one-byte files with random names (compressing poorly, so fewer entries per chunk read), and one holding a single 2 GiB file that inflates about 350 times (a zero page with one byte in 2 KiB: under tar's own 1000x guard), each extracted with the default limits in a fresh process, as the server does at start-up.",
  expectation: `each refused at the entry past a limit (the bomb at its header), for under ${maxRefusalCpuMs / 1000} s of CPU time, having read a fraction of the archive and written under 1 MiB`,
  async run({ workDir, progress }) {
    progress(`writing an archive of ${entryCount} entries`);
    const many = join(workDir, "many-entries.tar.gz");
    const gzip = createGzip();
    const file = createWriteStream(many);
    gzip.pipe(file);
    for (let index = 0; index < entryCount; index++) {
      if (!gzip.write(tarHeader({ path: `d${index % 100}/f${index}` }))) await once(gzip, "drain");
    }
    gzip.end(Buffer.alloc(1024));
    await once(file, "close");

    progress(`writing an archive of ${entryCount} entries with random names and a byte each`);
    const random = join(workDir, "random-entries.tar.gz");
    const randomGzip = createGzip();
    const randomFile = createWriteStream(random);
    randomGzip.pipe(randomFile);
    for (let index = 0; index < entryCount; index++) {
      const name = randomBytes(24).toString("hex");
      if (!randomGzip.write(tarEntry({ path: `${name.slice(0, 2)}/${name}`, data: name.slice(0, 1) }))) await once(randomGzip, "drain");
    }
    randomGzip.end(Buffer.alloc(1024));
    await once(randomFile, "close");

    progress("writing a 2 GiB gzip bomb");
    const bomb = join(workDir, "bomb.tar.gz");
    const block = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < block.length; at += 2048) block[at] = ((at * 7919) & 0xff) || 1;
    const member = gzipSync(block);
    const out = createWriteStream(bomb);
    out.write(gzipSync(tarHeader({ path: "weights.bin", declaredSize: bombBytes })));
    for (let mib = 0; mib < bombBytes / block.length; mib++) if (!out.write(member)) await once(out, "drain");
    out.end(gzipSync(Buffer.alloc(1024)));
    await once(out, "close");

    const results: { name: string; size: number; extraction: Extraction; rssPeakBytes: number }[] = [];
    for (const [name, archive] of [["200,000 empty files", many], ["200,000 files with random names", random], ["2 GiB bomb", bomb]] as const) {
      progress(`extracting ${name}`);
      const child = spawnNode(["--import", "tsx", "test/reliability/extract-child.ts", archive, join(workDir, `${name.replace(/\W+/g, "-")}-out`)], {});
      const exited = once(child.child, "exit");
      let rssPeakBytes = 0;
      const sampler = setInterval(() => {
        try {
          rssPeakBytes = Math.max(rssPeakBytes, child.rssPeakBytes());
        } catch {
          // The process has exited between two samples.
        }
      }, 20);
      await exited;
      clearInterval(sampler);
      const extraction = JSON.parse(child.output().trim().split("\n").at(-1) ?? "{}") as Extraction;
      results.push({ name, size: (await stat(archive)).size, extraction, rssPeakBytes });
    }
    return summarise(results);
  },
};

function summarise(results: readonly { name: string; size: number; extraction: Extraction; rssPeakBytes: number }[]): AttackResult {
  const held = results.every(({ size, extraction }) => extraction.error !== undefined && extraction.cpuMs < maxRefusalCpuMs && extraction.bytesRead < size && extraction.bytesWritten < 1024 * 1024);
  return {
    passed: held,
    outcome: results.map(({ name, extraction }) => `${name} ${extraction.error === undefined ? "**extracted**" : "refused"} in ${duration(extraction.ms)}`).join("; "),
    figures: { requestsServed: results.filter(({ extraction }) => extraction.error !== undefined).length, failures: results.filter(({ extraction }) => extraction.error === undefined).length, rssPeakBytes: Math.max(...results.map(({ rssPeakBytes }) => rssPeakBytes)) },
    details: results.flatMap(({ name, size, extraction, rssPeakBytes }) => [
      [`${name}: archive`, mebibytes(size)] as const,
      [`${name}: refused`, extraction.error === undefined ? "no" : `in ${duration(extraction.ms)} (CPU ${duration(extraction.cpuMs)}): ${extraction.error.replace(/^.*?model\.tar\.gz: |^[^:]*\.tar\.gz: /, "")}`] as const,
      [`${name}: bytes read, written`, `${mebibytes(extraction.bytesRead)}, ${mebibytes(extraction.bytesWritten)}`] as const,
      [`${name}: peak RSS of the extracting process`, mebibytes(rssPeakBytes)] as const,
    ]),
  };
}
