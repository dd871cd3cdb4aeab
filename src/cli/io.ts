import { readFile } from "node:fs/promises";
import { buffer } from "node:stream/consumers";
import type { Readable, Writable } from "node:stream";
import type { ProgressStream } from "./progress.js";

/**
 * Where a command reads and writes: the process's streams, or captured ones in tests.
 *
 * @example
 * ```ts
 * const io: CommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
 * ```
 */
export interface CommandIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable & ProgressStream;
}

/**
 * The process's own streams.
 *
 * @example
 * ```ts
 * await runInvoke(argv, process.env, processIo());
 * ```
 */
export function processIo(): CommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/**
 * A file's bytes, or standard input's for `-` or no file.
 *
 * @example
 * ```ts
 * const body = await readInput("payload.json", io.stdin);
 * ```
 */
export async function readInput(file: string | undefined, stdin: Readable): Promise<Buffer> {
  if (file !== undefined && file !== "-") return readFile(file);
  return buffer(stdin);
}

/**
 * Writes all of `data` and waits until the stream took it.
 *
 * @example
 * ```ts
 * await writeAll(io.stdout, "done\n");
 * ```
 */
export function writeAll(stream: Writable, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(data, (error) => (error ? reject(error) : resolve())));
}
