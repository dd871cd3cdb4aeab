import type { BatchStrategy, SplitType } from "./job.js";
import type { InputRecord } from "./record-splitter.js";

/**
 * The body of one `/invocations` request and the records it holds.
 *
 * @example
 * ```ts
 * const batch: MiniBatch = { firstRecord: 0, records: 2, body: Buffer.from("1,2\n3,4\n"), inputs: [] };
 * ```
 */
export interface MiniBatch {
  /** 0-based position, in its file, of the batch's first record. */
  readonly firstRecord: number;
  readonly records: number;
  readonly body: Buffer;
  /** The records as read, before the input filter: kept only when answers are joined to them. */
  readonly inputs: readonly Buffer[];
}

/** A record larger than `MaxPayloadInMB`: it cannot be sent, so its file fails (as on SageMaker). */
export class RecordTooLargeError extends Error {
  override name = "RecordTooLargeError";
}

/**
 * How records are grouped into requests.
 *
 * @example
 * ```ts
 * const options: MiniBatchOptions = { strategy: "MultiRecord", maxBytes: 6 * 1024 * 1024, splitType: "Line", keepInputs: false };
 * ```
 */
export interface MiniBatchOptions {
  readonly strategy: BatchStrategy;
  /** `MaxPayloadInMB` in bytes; `Infinity` for 0 (no limit). */
  readonly maxBytes: number;
  readonly splitType: SplitType;
  /** Keep each batch's input records (for `JoinSource: Input` and the output filter). */
  readonly keepInputs: boolean;
}

const newline = Buffer.from("\n");

/**
 * Groups one file's records into mini-batches, as SageMaker does (docs/batch.md):
 * `SingleRecord` sends each record alone; `MultiRecord` as many consecutive records as fit in
 * `MaxPayloadInMB`. A batcher serves one file, so no batch spans two files. In a request, a line
 * record ends with `\n`; a RecordIO record keeps its framing in `MultiRecord` and goes as bare
 * data in `SingleRecord`; a whole file (`SplitType: None`) goes as it is.
 *
 * @example
 * ```ts
 * const batcher = new MiniBatcher({ strategy: "MultiRecord", maxBytes: 8, splitType: "Line", keepInputs: false });
 * batcher.add(record("1,2")); // undefined: the batch has room
 * batcher.add(record("3,4")); // undefined ("1,2\n3,4\n" is 8 bytes)
 * batcher.add(record("5,6")); // the batch "1,2\n3,4\n"; "5,6\n" starts the next
 * batcher.flush(); // the batch "5,6\n"
 * ```
 */
export class MiniBatcher {
  readonly #options: MiniBatchOptions;
  #pieces: Buffer[] = [];
  #inputs: Buffer[] = [];
  #bytes = 0;
  #records = 0;
  #nextRecord = 0;

  constructor(options: MiniBatchOptions) {
    this.#options = options;
  }

  /**
   * Adds a record (`sent` is what goes in the request when an input filter changed it); returns
   * the batch this completes, if any: in `SingleRecord`, the record's own.
   *
   * @throws RecordTooLargeError when the record alone is over the limit.
   */
  add(record: InputRecord, sent: Buffer = record.data): MiniBatch | undefined {
    const { splitType, strategy, maxBytes } = this.#options;
    const pieces = splitType === "Line" ? [sent, newline] : [splitType === "RecordIO" && strategy === "MultiRecord" ? record.framed : sent];
    const size = pieces.reduce((total, piece) => total + piece.length, 0);
    if (size > maxBytes) {
      throw new RecordTooLargeError(
        `Record ${this.#nextRecord + 1} is ${size} bytes, over MaxPayloadInMB (${maxBytes} bytes); raise MaxPayloadInMB or split the record`,
      );
    }
    const completed = this.#records > 0 && this.#bytes + size > maxBytes ? this.flush() : undefined;
    this.#pieces.push(...pieces);
    if (this.#options.keepInputs) this.#inputs.push(record.data);
    this.#bytes += size;
    this.#records++;
    this.#nextRecord++;
    return strategy === "SingleRecord" ? this.flush() : completed;
  }

  /** The batch being filled, if it holds any record. */
  flush(): MiniBatch | undefined {
    if (this.#records === 0) return undefined;
    const batch: MiniBatch = {
      firstRecord: this.#nextRecord - this.#records,
      records: this.#records,
      body: this.#pieces.length === 1 ? (this.#pieces[0] as Buffer) : Buffer.concat(this.#pieces, this.#bytes),
      inputs: this.#inputs,
    };
    this.#pieces = [];
    this.#inputs = [];
    this.#bytes = 0;
    this.#records = 0;
    return batch;
  }
}
