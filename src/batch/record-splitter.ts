import { RecordIOReader } from "./recordio.js";
import type { SplitType } from "./job.js";

/**
 * One record of an input file: `data` is what the record holds; `framed` is how it is sent in a
 * `MultiRecord` mini-batch (RecordIO keeps its framing and padding there, docs/batch.md).
 *
 * @example
 * ```ts
 * const record: InputRecord = { data: Buffer.from("5.1,3.5,1.4,0.2"), framed: Buffer.from("5.1,3.5,1.4,0.2") };
 * ```
 */
export interface InputRecord {
  readonly data: Buffer;
  readonly framed: Buffer;
}

/**
 * Cuts a file that arrives in chunks into records: `push` returns the records completed by a
 * chunk, `end` the rest.
 *
 * @example
 * ```ts
 * const splitter = createSplitter("Line", Infinity);
 * for await (const chunk of stream) handle(splitter.push(chunk));
 * handle(splitter.end());
 * ```
 */
export interface RecordSplitter {
  push(chunk: Buffer): InputRecord[];
  end(): InputRecord[];
}

/** A file with `SplitType: None` that is larger than the payload limit, found before it is all read. */
export class FileTooLargeError extends Error {
  override name = "FileTooLargeError";
}

/**
 * The splitter of `splitType`:
 * - `None`: the whole file is one record (an empty file none); past `maxRecordBytes` it fails
 *   early with {@link FileTooLargeError} rather than reading on;
 * - `Line`: one record per line, without its `\n` (nor a `\r` before it); empty lines are skipped;
 * - `RecordIO`: one record per MXNet RecordIO record (see recordio.ts).
 *
 * @example
 * ```ts
 * createSplitter("Line", Infinity).push(Buffer.from("a\nb\n")).length; // 2
 * ```
 */
export function createSplitter(splitType: SplitType, maxRecordBytes: number): RecordSplitter {
  switch (splitType) {
    case "Line":
      return new LineSplitter();
    case "RecordIO": {
      const reader = new RecordIOReader();
      return {
        push: (chunk) => reader.push(chunk),
        end: () => {
          reader.end();
          return [];
        },
      };
    }
    case "None":
      return new WholeFile(maxRecordBytes);
  }
}

class LineSplitter implements RecordSplitter {
  #carry: Buffer | undefined;

  push(chunk: Buffer): InputRecord[] {
    const bytes = this.#carry === undefined ? chunk : Buffer.concat([this.#carry, chunk]);
    const records: InputRecord[] = [];
    let start = 0;
    for (;;) {
      const newline = bytes.indexOf(10, start);
      if (newline === -1) break;
      addLine(records, bytes, start, newline);
      start = newline + 1;
    }
    this.#carry = start < bytes.length ? bytes.subarray(start) : undefined;
    return records;
  }

  end(): InputRecord[] {
    const records: InputRecord[] = [];
    if (this.#carry !== undefined) addLine(records, this.#carry, 0, this.#carry.length);
    this.#carry = undefined;
    return records;
  }
}

function addLine(records: InputRecord[], bytes: Buffer, start: number, end: number): void {
  const stop = end > start && bytes[end - 1] === 13 ? end - 1 : end;
  if (stop === start) return;
  const line = bytes.subarray(start, stop);
  records.push({ data: line, framed: line });
}

class WholeFile implements RecordSplitter {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): InputRecord[] {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      throw new FileTooLargeError(`The file is larger than MaxPayloadInMB (${this.#maxBytes} bytes) and SplitType is None, so it cannot be sent whole; split it with SplitType Line or RecordIO, or raise MaxPayloadInMB`);
    }
    this.#chunks.push(chunk);
    return [];
  }

  end(): InputRecord[] {
    if (this.#bytes === 0) return [];
    const data = Buffer.concat(this.#chunks, this.#bytes);
    return [{ data, framed: data }];
  }
}
