/**
 * MXNet RecordIO framing, the binary record format of SageMaker's `SplitType: RecordIO` and of
 * `application/x-recordio` bodies (docs/batch.md, "RecordIO"). Each record is written as
 *
 *     magic (uint32 0xced7230a) | lrecord (uint32) | data | zero padding to a multiple of 4 bytes
 *
 * with both words little-endian; `lrecord` holds the continuation flag in its top 3 bits and the
 * data length in the low 29. A record whose data holds the magic number at a 4-byte-aligned
 * offset is written as several parts cut at those words (flag 1 first, 2 middle, 3 last; 0 for a
 * record in one part), so a reader can always find the next record head.
 */

/** The magic number that starts every part of a record. */
const recordIOMagic = 0xced7230a;

const headerBytes = 8;
const maxPartBytes = 2 ** 29 - 1;
const magicBytes = Buffer.from([0x0a, 0x23, 0xd7, 0xce]);

/** A malformed RecordIO stream: the message names the byte offset. */
export class RecordIOError extends Error {
  override name = "RecordIOError";
}

/**
 * One record read from a RecordIO stream: its data, and the bytes it was framed in (headers and
 * padding included), which SageMaker sends as they are in `MultiRecord` mini-batches.
 *
 * @example
 * ```ts
 * const [record] = decodeRecordIO(encodeRecordIO([Buffer.from("a")]));
 * record.data.toString(); // "a"
 * ```
 */
export interface RecordIORecord {
  readonly data: Buffer;
  readonly framed: Buffer;
}

/**
 * Frames each item as one record, as MXNet's writer does (splitting at aligned magic words).
 *
 * @throws RangeError when an item is 2^29 bytes or more, which RecordIO cannot frame.
 * @example
 * ```ts
 * encodeRecordIO([Buffer.from("abc")]).length; // 12: 8 header bytes, 3 data bytes, 1 padding byte
 * ```
 */
export function encodeRecordIO(items: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) for (const part of frameRecord(Buffer.from(item.buffer, item.byteOffset, item.byteLength))) parts.push(part);
  return Buffer.concat(parts);
}

function frameRecord(data: Buffer): Buffer[] {
  if (data.length > maxPartBytes) throw new RangeError(`A RecordIO record holds less than 2^29 bytes; this one has ${data.length}`);
  const parts: Buffer[] = [];
  let start = 0;
  const alignedEnd = data.length - (data.length % 4);
  for (let offset = 0; offset < alignedEnd; offset += 4) {
    if (data.readUInt32LE(offset) !== recordIOMagic) continue;
    parts.push(header(start === 0 ? 1 : 2, offset - start), data.subarray(start, offset));
    start = offset + 4;
  }
  parts.push(header(start === 0 ? 0 : 3, data.length - start), data.subarray(start));
  const padding = (4 - (data.length % 4)) % 4;
  if (padding > 0) parts.push(Buffer.alloc(padding));
  return parts;
}

function header(flag: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(headerBytes);
  bytes.writeUInt32LE(recordIOMagic, 0);
  bytes.writeUInt32LE(((flag << 29) | length) >>> 0, 4);
  return bytes;
}

/**
 * Reads every record of a complete RecordIO stream.
 *
 * @throws RecordIOError on a bad magic number, a truncated record or parts out of order.
 * @example
 * ```ts
 * decodeRecordIO(body).map((record) => record.data.toString("utf8"));
 * ```
 */
export function decodeRecordIO(stream: Buffer): RecordIORecord[] {
  const reader = new RecordIOReader();
  const records = reader.push(stream);
  reader.end();
  return records;
}

/**
 * True when `body` starts as a RecordIO stream does (with the magic number). SageMaker sends a
 * `SingleRecord` request's data without its framing, so a body that does not is one bare record.
 *
 * @example
 * ```ts
 * isRecordIOFramed(encodeRecordIO([Buffer.from("a")])); // true
 * ```
 */
export function isRecordIOFramed(body: Uint8Array): boolean {
  return body.length >= 4 && body[0] === magicBytes[0] && body[1] === magicBytes[1] && body[2] === magicBytes[2] && body[3] === magicBytes[3];
}

/**
 * Counts the records of a RecordIO stream without copying their data.
 *
 * @throws RecordIOError as {@link decodeRecordIO} does.
 * @example
 * ```ts
 * countRecordIO(encodeRecordIO([a, b])); // 2
 * ```
 */
export function countRecordIO(stream: Uint8Array): number {
  const bytes = Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength);
  let count = 0;
  let offset = 0;
  let inRecord = false;
  while (offset < bytes.length) {
    const { flag, paddedLength } = readHeader(bytes, offset);
    if (offset + headerBytes + paddedLength > bytes.length) throw truncated(offset);
    inRecord = checkFlag(flag, inRecord, offset);
    if (!inRecord) count++;
    offset += headerBytes + paddedLength;
  }
  if (inRecord) throw new RecordIOError(`RecordIO stream ends inside a record split in parts (at byte ${offset})`);
  return count;
}

/**
 * Reads records from a RecordIO stream that arrives in chunks (a file or an S3 object read as a
 * stream): `push` returns the records completed so far, `end` checks that nothing is left over.
 *
 * @example
 * ```ts
 * const reader = new RecordIOReader();
 * for await (const chunk of stream) for (const record of reader.push(chunk)) handle(record);
 * reader.end();
 * ```
 */
export class RecordIOReader {
  #pending: Buffer = Buffer.alloc(0);
  /** Bytes of the stream before `#pending`, for error offsets. */
  #consumed = 0;

  push(chunk: Buffer): RecordIORecord[] {
    const bytes = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const records: RecordIORecord[] = [];
    let start = 0;
    for (;;) {
      const end = this.#recordEnd(bytes, start);
      if (end === undefined) break;
      const framed = bytes.subarray(start, end);
      records.push({ data: dataOf(framed), framed });
      start = end;
    }
    this.#consumed += start;
    this.#pending = bytes.subarray(start);
    return records;
  }

  /** @throws RecordIOError when the stream stopped inside a record. */
  end(): void {
    if (this.#pending.length > 0) throw truncated(this.#consumed);
  }

  /** Where the record starting at `start` ends, or `undefined` when it is not complete yet. */
  #recordEnd(bytes: Buffer, start: number): number | undefined {
    let offset = start;
    let inRecord = false;
    for (;;) {
      if (offset + headerBytes > bytes.length) {
        if (offset + 4 <= bytes.length && bytes.readUInt32LE(offset) !== recordIOMagic) throw badMagic(bytes, offset, this.#consumed);
        return undefined;
      }
      const { flag, paddedLength } = readHeader(bytes, offset, this.#consumed);
      if (offset + headerBytes + paddedLength > bytes.length) return undefined;
      inRecord = checkFlag(flag, inRecord, this.#consumed + offset);
      offset += headerBytes + paddedLength;
      if (!inRecord) return offset;
    }
  }
}

function readHeader(bytes: Buffer, offset: number, base = 0): { flag: number; length: number; paddedLength: number } {
  if (offset + headerBytes > bytes.length) throw truncated(base + offset);
  if (bytes.readUInt32LE(offset) !== recordIOMagic) throw badMagic(bytes, offset, base);
  const lrecord = bytes.readUInt32LE(offset + 4);
  const length = lrecord & maxPartBytes;
  return { flag: lrecord >>> 29, length, paddedLength: (length + 3) & ~3 };
}

/** Whether a record split in parts is still open after a part with `flag`. */
function checkFlag(flag: number, inRecord: boolean, offset: number): boolean {
  const expected = inRecord ? "a middle or last part (flag 2 or 3)" : "a whole record or a first part (flag 0 or 1)";
  const valid = inRecord ? flag === 2 || flag === 3 : flag === 0 || flag === 1;
  if (!valid) throw new RecordIOError(`RecordIO part at byte ${offset} has flag ${flag} where ${expected} belongs`);
  return flag === 1 || flag === 2;
}

/** The data of one framed record, its parts joined with the magic words they were cut at. */
function dataOf(framed: Buffer): Buffer {
  const first = readHeader(framed, 0);
  if (first.flag === 0) return framed.subarray(headerBytes, headerBytes + first.length);
  const pieces: Buffer[] = [];
  let offset = 0;
  while (offset < framed.length) {
    const { length, paddedLength } = readHeader(framed, offset);
    if (offset > 0) pieces.push(magicBytes);
    pieces.push(framed.subarray(offset + headerBytes, offset + headerBytes + length));
    offset += headerBytes + paddedLength;
  }
  return Buffer.concat(pieces);
}

function truncated(offset: number): RecordIOError {
  return new RecordIOError(`RecordIO stream is truncated: the record at byte ${offset} is incomplete`);
}

function badMagic(bytes: Buffer, offset: number, base: number): RecordIOError {
  return new RecordIOError(
    `Not a RecordIO stream: byte ${base + offset} holds 0x${bytes.readUInt32LE(offset).toString(16).padStart(8, "0")} where the magic number 0x${recordIOMagic.toString(16)} belongs`,
  );
}
