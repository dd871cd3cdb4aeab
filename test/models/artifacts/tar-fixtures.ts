import { gzipSync } from "node:zlib";

/** Type flags of the ustar format (POSIX.1-1988): the ones the tests write by hand. */
export const tarType = {
  file: "0",
  hardLink: "1",
  symlink: "2",
  characterDevice: "3",
  blockDevice: "4",
  directory: "5",
  fifo: "6",
  paxHeader: "x",
} as const;

/** One entry written byte by byte, so the tests can build archives `tar` refuses to create. */
export interface RawTarEntry {
  path: string;
  type?: (typeof tarType)[keyof typeof tarType];
  linkpath?: string;
  data?: Buffer | string;
  /** The size the header declares; defaults to the data's length. */
  declaredSize?: number;
  mode?: number;
}

/** A 512-byte ustar header with a valid checksum. */
export function tarHeader(entry: RawTarEntry): Buffer {
  const header = Buffer.alloc(512);
  const data = Buffer.from(entry.data ?? "");
  const type = entry.type ?? tarType.file;
  writeString(header, entry.path, 0, 100);
  writeOctal(header, entry.mode ?? (type === tarType.directory ? 0o755 : 0o644), 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, entry.declaredSize ?? data.length, 124, 12);
  writeOctal(header, 1_700_000_000, 136, 12);
  header.write(type, 156, "latin1");
  writeString(header, entry.linkpath ?? "", 157, 100);
  header.write("ustar\u000000", 257, "latin1");
  writeOctal(header, 0, 329, 8);
  writeOctal(header, 0, 337, 8);
  // The checksum is the byte sum of the header with its own field read as eight spaces.
  header.fill(0x20, 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1");
  return header;
}

/** Header plus data padded to the 512-byte block size. */
export function tarEntry(entry: RawTarEntry): Buffer {
  const data = Buffer.from(entry.data ?? "");
  const padding = (512 - (data.length % 512)) % 512;
  return Buffer.concat([tarHeader(entry), data, Buffer.alloc(padding)]);
}

/** A whole tar archive: the entries, then the two zero blocks that end it. */
export function rawTar(entries: readonly RawTarEntry[]): Buffer {
  return Buffer.concat([...entries.map(tarEntry), Buffer.alloc(1024)]);
}

/** A gzip-compressed tar archive of `entries`. */
export function rawTarGz(entries: readonly RawTarEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

/** A pax extended header entry whose records apply to the entry that follows it. */
export function paxHeader(records: Readonly<Record<string, string>>): RawTarEntry {
  const data = Object.entries(records)
    .map(([key, value]) => {
      const body = ` ${key}=${value}\n`;
      // The length prefix counts itself, so grow it until it is stable.
      let length = Buffer.byteLength(body) + 1;
      while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
      return `${length}${body}`;
    })
    .join("");
  return { path: "PaxHeader", type: tarType.paxHeader, data };
}

function writeString(header: Buffer, value: string, offset: number, length: number): void {
  if (Buffer.byteLength(value) > length) throw new Error(`"${value}" does not fit in a ${length}-byte ustar field`);
  header.write(value, offset, length, "utf8");
}

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  const digits = value.toString(8).padStart(length - 1, "0");
  if (digits.length > length - 1) throw new Error(`${value} does not fit in a ${length}-byte ustar field`);
  header.write(`${digits}\u0000`, offset, "latin1");
}
