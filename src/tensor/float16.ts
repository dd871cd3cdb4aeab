/**
 * IEEE 754 half precision, stored as raw bits in a `Uint16Array` (the toolkit's `float16`
 * storage): `Float16Array` and `Math.f16round` are missing before Node 24.
 */

const SMALLEST_NORMAL = 2 ** -14;
/** Halfway between the largest half (65504) and 65536: from here on, values round to infinity. */
const OVERFLOW = 65520;

/**
 * The half-precision bits nearest to `value` (ties to even), rounded straight from the double so
 * that no intermediate float32 rounding can shift a tie.
 *
 * @example
 * ```ts
 * float16Bits(1); // 0x3c00
 * float16Bits(-2); // 0xc000
 * ```
 */
export function float16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude >= OVERFLOW) return sign | 0x7c00;
  // Subnormals count in steps of 2^-24; a count of 1024 is the smallest normal, whose bits follow on.
  if (magnitude < SMALLEST_NORMAL) return sign | roundHalfEven(magnitude * 2 ** 24);
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent -= 1;
  else if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  // Both steps are exact in double precision: the significand lies in [1, 2).
  let mantissa = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent += 1;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/**
 * The number that half-precision `bits` stand for.
 *
 * @example
 * ```ts
 * float16Value(0x3c00); // 1
 * float16Value(0x7c00); // Infinity
 * ```
 */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function roundHalfEven(value: number): number {
  const rounded = Math.round(value);
  return rounded - value === 0.5 && rounded % 2 === 1 ? rounded - 1 : rounded;
}
