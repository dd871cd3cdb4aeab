import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Codec } from "../../src/codecs/codec.js";
import { csvCodec } from "../../src/codecs/csv.js";
import { jsonCodec } from "../../src/codecs/json.js";
import { decodeNumericJson } from "../../src/codecs/json-tensor.js";
import { jsonLinesCodec } from "../../src/codecs/jsonlines.js";
import { createMultipartCodec } from "../../src/codecs/multipart.js";
import { parseMediaType } from "../../src/codecs/media-type.js";
import { npyCodec } from "../../src/codecs/npy.js";
import { octetStreamCodec } from "../../src/codecs/octet-stream.js";
import { BadRequestError } from "../../src/errors.js";

// Decoding must cost time linear in the body size, whatever its shape: a quadratic path (or one
// costing elements × axes, as Fortran-order .npy did) lets one small body hold a worker for a
// minute. Each worst-case shape is timed in CPU time (not wall-clock time, which a loaded machine
// stretches) at a size S and at 16 S: linear decoding grows about 16 times (up to 3 times more
// where the garbage collector copies what a parse keeps alive), a quadratic one 256 times, so the
// bound of 64 sits far from both. The worst case is also compared with a normal body of the same
// codec and size, under a bound a super-linear path at 16 S cannot meet.

const growthFactor = 16;
const maxGrowth = 64;
const maxWorstToNormal = 100;

interface Shape {
  readonly name: string;
  /** A body of about `bytes` bytes. */
  readonly body: (bytes: number) => Buffer;
  /** What decoding the body must do: give a value or refuse it with a 400. */
  readonly outcome: "decoded" | "refused";
}

interface CodecCase {
  /** What the tests are named after; the codec's first media type unless set. */
  readonly label?: string;
  readonly codec: Codec;
  readonly contentType: string;
  /** The smaller of the two sizes; 8 times more is the larger. */
  readonly size: number;
  readonly normal: Shape;
  readonly worst: readonly Shape[];
}

const repeatTo = (bytes: number, unit: string, head = "", tail = ""): string =>
  head + unit.repeat(Math.max(1, Math.floor((bytes - head.length - tail.length) / unit.length))) + tail;
const text = (value: string): Buffer => Buffer.from(value);

/** A .npy file: `dict` padded as NumPy pads it, then `data`; format 2.0 when the header needs it. */
function npy(dict: string, data: Uint8Array): Buffer {
  const version = dict.length < 65_000 ? 1 : 2;
  const prefixLength = version === 1 ? 10 : 12;
  const padded = dict + " ".repeat(63 - ((prefixLength + dict.length) % 64)) + "\n";
  const prefix = Buffer.alloc(prefixLength);
  prefix.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) prefix.writeUInt16LE(padded.length, 8);
  else prefix.writeUInt32LE(padded.length, 8);
  return Buffer.concat([prefix, Buffer.from(padded, "latin1"), data]);
}

/** Fortran-order uint8 data of about `bytes` elements over 64 axes: as many of size 2 as fit, then size 1. */
function npyManyAxes(bytes: number): Buffer {
  const twos = Math.floor(Math.log2(bytes));
  const shape = [...new Array<number>(twos).fill(2), ...new Array<number>(64 - twos).fill(1)];
  return npy(`{'descr': '|u1', 'fortran_order': True, 'shape': (${shape.join(", ")}), }`, new Uint8Array(2 ** twos).fill(7));
}

const boundary = "b".repeat(70);
function multipart(parts: readonly { name: string; data: Buffer | string }[]): Buffer {
  const chunks = parts.flatMap(({ name, data }) => [
    text(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    Buffer.from(data),
    text("\r\n"),
  ]);
  return Buffer.concat([...chunks, text(`--${boundary}--\r\n`)]);
}

const cases: readonly CodecCase[] = [
  {
    codec: jsonCodec,
    contentType: "application/json",
    size: 16 * 1024,
    normal: { name: "rows of four floats", body: (bytes) => text(repeatTo(bytes, "[5.1,3.5,1.4,0.2],", '{"instances":[', "[0]]}")), outcome: "decoded" },
    worst: [
      { name: "nesting as deep as the body allows", body: (bytes) => text(`${"[".repeat(bytes / 2)}${"]".repeat(bytes / 2)}`), outcome: "decoded" },
      { name: "empty arrays", body: (bytes) => text(repeatTo(bytes, "[],", "[", "[]]")), outcome: "decoded" },
      { name: "one object with distinct keys", body: (bytes) => text(`{${Array.from({ length: Math.floor(bytes / 12) }, (_, index) => `"k${index}":1`).join(",")}}`), outcome: "decoded" },
      { name: "escaped strings", body: (bytes) => text(repeatTo(bytes, '"\\u0041\\n\\"",', "[", '""]')), outcome: "decoded" },
      { name: "an out-of-range number at the end (refused)", body: (bytes) => text(repeatTo(bytes, "1e-400,", "[", "1e400]")), outcome: "refused" },
      { name: "integer parts just short of an overflow candidate", body: (bytes) => text(repeatTo(bytes, `${"9".repeat(199)},`, "[", "0]")), outcome: "decoded" },
    ],
  },
  {
    // What a model with one float input gets: the numeric reader, else the general path.
    label: "application/json read as numbers",
    codec: { mediaTypes: ["application/json"], decode: (body, options) => decodeNumericJson(body) ?? jsonCodec.decode?.(body, options) },
    contentType: "application/json",
    size: 16 * 1024,
    normal: { name: "rows of four floats", body: (bytes) => text(repeatTo(bytes, "[5.1,3.5,1.4,0.2],", '{"instances":[', "[0,0,0,0]]}")), outcome: "decoded" },
    worst: [
      { name: "rank as high as the body allows", body: (bytes) => text(`${"[".repeat(bytes / 2 - 1)}1${"]".repeat(bytes / 2 - 1)}`), outcome: "decoded" },
      { name: "numbers too long to read exactly in one pass", body: (bytes) => text(repeatTo(bytes, "0.12345678901234567890123,", "[", "0]")), outcome: "decoded" },
      { name: "a ragged row at the end (read twice)", body: (bytes) => text(repeatTo(bytes, "[5.1,3.5,1.4,0.2],", "[", "[0]]")), outcome: "decoded" },
    ],
  },
  {
    codec: jsonLinesCodec,
    contentType: "application/jsonlines",
    size: 16 * 1024,
    normal: { name: "records of four floats", body: (bytes) => text(repeatTo(bytes, '{"features":[5.1,3.5,1.4,0.2]}\n')), outcome: "decoded" },
    worst: [
      { name: "one number per line", body: (bytes) => text(repeatTo(bytes, "1\n")), outcome: "decoded" },
      { name: "blank lines, then a value", body: (bytes) => text(repeatTo(bytes, "\r\n", "", "1")), outcome: "decoded" },
      { name: "one long line", body: (bytes) => text(repeatTo(bytes, "1,", "[", "1]")), outcome: "decoded" },
      { name: "an out-of-range number on the last line (refused)", body: (bytes) => text(repeatTo(bytes, "[[[1e-400]]]\n", "", "1e400")), outcome: "refused" },
      { name: "long integer parts", body: (bytes) => text(repeatTo(bytes, `${"9".repeat(199)}\n`)), outcome: "decoded" },
    ],
  },
  {
    codec: csvCodec,
    contentType: "text/csv",
    size: 16 * 1024,
    normal: { name: "rows of four floats", body: (bytes) => text(repeatTo(bytes, "5.1,3.5,1.4,0.2\n")), outcome: "decoded" },
    worst: [
      { name: "one column", body: (bytes) => text(repeatTo(bytes, "1\n")), outcome: "decoded" },
      { name: "one row", body: (bytes) => text(repeatTo(bytes, "1,", "", "1")), outcome: "decoded" },
      { name: "blank lines", body: (bytes) => text(repeatTo(bytes, "\r\n", "", "1")), outcome: "decoded" },
      { name: "one very long number", body: (bytes) => text(repeatTo(bytes, "1", "0.")), outcome: "decoded" },
      { name: "a ragged last row (refused)", body: (bytes) => text(repeatTo(bytes, "1,2,3,4\n", "", "1,2,3")), outcome: "refused" },
      { name: "nan in the last cell (refused)", body: (bytes) => text(repeatTo(bytes, "1,2,3,4\n", "", "1,2,3,nan")), outcome: "refused" },
    ],
  },
  {
    codec: npyCodec,
    contentType: "application/x-npy",
    size: 32 * 1024,
    normal: {
      name: "a Fortran-order float32 matrix",
      body: (bytes) => npy(`{'descr': '<f4', 'fortran_order': True, 'shape': (${Math.floor(bytes / 64)}, 16), }`, new Uint8Array(Math.floor(bytes / 64) * 64)),
      outcome: "decoded",
    },
    worst: [
      { name: "Fortran order over 64 axes", body: npyManyAxes, outcome: "decoded" },
      {
        name: "big-endian float64 in Fortran order",
        body: (bytes) => npy(`{'descr': '>f8', 'fortran_order': True, 'shape': (2, ${Math.floor(bytes / 16)}), }`, new Uint8Array(Math.floor(bytes / 16) * 16)),
        outcome: "decoded",
      },
      {
        name: "Fortran order (2, n, 1, 1, ...) with a header past numpy.load's limit (refused)",
        body: (bytes) => npy(`{'descr': '|u1', 'fortran_order': True, 'shape': (2, ${bytes / 4}${", 1".repeat(bytes / 6)}), }`, new Uint8Array(bytes / 2)),
        outcome: "refused",
      },
    ],
  },
  {
    codec: octetStreamCodec,
    contentType: "application/octet-stream",
    size: 32 * 1024,
    normal: { name: "random bytes", body: (bytes) => Buffer.alloc(bytes, 0x5a), outcome: "decoded" },
    worst: [{ name: "zero bytes", body: (bytes) => Buffer.alloc(bytes), outcome: "decoded" }],
  },
  {
    codec: createMultipartCodec({ maxFileBytes: 64 * 1024 * 1024, maxFiles: 110, maxParts: 110 }),
    contentType: `multipart/form-data; boundary=${boundary}`,
    size: 16 * 1024,
    normal: { name: "one file", body: (bytes) => multipart([{ name: "image", data: Buffer.alloc(bytes, 0x5a) }]), outcome: "decoded" },
    worst: [
      {
        name: "a file of near-boundaries",
        body: (bytes) => multipart([{ name: "image", data: repeatTo(bytes, `\r\n--${boundary.slice(0, 69)}x`) }]),
        outcome: "decoded",
      },
      {
        name: "110 files",
        body: (bytes) => multipart(Array.from({ length: 110 }, (_, index) => ({ name: `f${index}`, data: Buffer.alloc(Math.floor(bytes / 110), 0x5a) }))),
        outcome: "decoded",
      },
    ],
  },
];

/** CPU time of one decode in ms: the least of five rounds of repeated calls (at least 5 ms each). */
async function cpuMsPerDecode(decode: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    let calls = 0;
    const elapsedMs = () => {
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    do {
      await decode().catch(() => undefined);
      calls++;
    } while (elapsedMs() < 5);
    best = Math.min(best, elapsedMs() / calls);
  }
  return best;
}

for (const { label, codec, contentType, size, normal, worst } of cases) {
  const name = label ?? codec.mediaTypes[0];
  describe(`decoding ${name} costs time linear in the body size`, () => {
    const mediaType = parseMediaType(contentType);
    const decoder = (body: Buffer) => async () => codec.decode?.(body, { mediaType });

    for (const shape of [normal, ...worst]) {
      test(`${shape.name}: ${growthFactor} times the bytes cost at most ${maxGrowth} times the CPU time`, async () => {
        const small = shape.body(size);
        const large = shape.body(size * growthFactor);
        const outcome = await decoder(large)().then(
          () => "decoded",
          (error: unknown) => {
            assert.ok(error instanceof BadRequestError, `expected a 400, got ${String(error)}`);
            return "refused";
          },
        );
        assert.equal(outcome, shape.outcome);
        const growth = (await cpuMsPerDecode(decoder(large))) / (await cpuMsPerDecode(decoder(small)));
        if (process.env["DECODE_COST_VERBOSE"]) console.log(`${name} ${shape.name}: growth ${growth.toFixed(1)}`);
        assert.ok(growth < maxGrowth, `${large.length} bytes cost ${growth.toFixed(1)} times what ${small.length} bytes cost`);
      });
    }

    test(`the worst shapes cost at most ${maxWorstToNormal} times a normal body of the same size`, async () => {
      const bytes = size * growthFactor;
      const normalMs = await cpuMsPerDecode(decoder(normal.body(bytes)));
      for (const shape of worst) {
        const body = shape.body(bytes);
        const ratio = (await cpuMsPerDecode(decoder(body))) / normalMs;
        if (process.env["DECODE_COST_VERBOSE"]) console.log(`${name} ${shape.name}: ${ratio.toFixed(1)} x normal`);
        assert.ok(ratio < maxWorstToNormal, `${shape.name} (${body.length} bytes) cost ${ratio.toFixed(1)} times ${normal.name}`);
      }
    });
  });
}
