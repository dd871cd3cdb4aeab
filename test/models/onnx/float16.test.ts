import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { float16Bits, float16Value } from "../../../src/tensor/float16.js";

// Node 24 ships Float16Array, the reference the hand-written conversion must match bit for bit.
const reference = new Float16Array(1);
const referenceBits = new Uint16Array(reference.buffer);

function referenceFloat16Bits(value: number): number {
  reference[0] = value;
  return referenceBits[0] ?? -1;
}

describe("float16 conversion", () => {
  it("rounds any double to the same bits as Float16Array", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (value) => float16Bits(value) === referenceFloat16Bits(value)),
      { numRuns: 20_000 },
    );
  });

  it("rounds values near float16's own range (subnormals, ties, overflow) like Float16Array", () => {
    const nearRange = fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: -26, max: 17 }));
    fc.assert(
      fc.property(nearRange, ([fraction, exponent]) => {
        const value = fraction * 2 ** exponent;
        return float16Bits(value) === referenceFloat16Bits(value);
      }),
      { numRuns: 20_000 },
    );
    for (const tie of [2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, -0]) {
      assert.equal(float16Bits(tie), referenceFloat16Bits(tie), `tie ${tie}`);
    }
  });

  it("encodes NaN as a NaN", () => {
    assert.ok(Number.isNaN(float16Value(float16Bits(Number.NaN))));
  });

  it("decodes every one of the 65536 bit patterns like Float16Array", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      referenceBits[0] = bits;
      const expected = reference[0] ?? 0;
      const actual = float16Value(bits);
      assert.ok(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)), `bits 0x${bits.toString(16)}`);
    }
  });
});
