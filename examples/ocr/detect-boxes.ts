/**
 * DB (Differentiable Binarization) post-processing, as PaddleOCR's `DBPostProcess` does it for
 * axis-aligned boxes: threshold the detector's probability map, take each connected region of
 * text pixels, score it, drop weak and tiny ones, and grow the rest back to full text size.
 */

/**
 * A detector output: one text probability per pixel, row-major.
 *
 * @example
 * ```ts
 * const map: ProbabilityMap = { data: new Float32Array(960 * 448), width: 960, height: 448 };
 * ```
 */
export interface ProbabilityMap {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * An axis-aligned text box and the mean text probability of the region it came from.
 *
 * @example
 * ```ts
 * const box: TextBox = { x: 52, y: 71, width: 495, height: 68, score: 0.91 };
 * ```
 */
export interface TextBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly score: number;
}

/**
 * Tuning of {@link detectBoxes}; the defaults are PaddleOCR's inference defaults.
 *
 * @example
 * ```ts
 * detectBoxes(map, { boxThreshold: 0.5, unclipRatio: 2 });
 * ```
 */
export interface DetectBoxesOptions {
  /** A pixel is text when its probability is above this (`det_db_thresh`, 0.3). */
  readonly threshold?: number;
  /** A region is kept when its mean probability is at least this (`det_db_box_thresh`, 0.6). */
  readonly boxThreshold?: number;
  /** Regions whose shorter side is below this many pixels are dropped (`min_size`, 3). */
  readonly minSide?: number;
  /** How far to grow each region (`det_db_unclip_ratio`, 1.5); see {@link unclip}. */
  readonly unclipRatio?: number;
  /** At most this many boxes are returned (`max_candidates`, 1000): bounds noisy images. */
  readonly maxBoxes?: number;
}

/** PaddleOCR's defaults for the DB detector at inference time. */
export const DB_DEFAULTS: Required<DetectBoxesOptions> = {
  threshold: 0.3,
  boxThreshold: 0.6,
  minSide: 3,
  unclipRatio: 1.5,
  maxBoxes: 1000,
};

/**
 * Finds text boxes in a probability map, in map pixel coordinates, ordered top to bottom by
 * their first row (ties left to right). Regions are 8-connected, as OpenCV's contours are.
 *
 * @example
 * ```ts
 * const boxes = detectBoxes({ data: probabilities, width: 960, height: 448 });
 * // [{ x: 43.6, y: 62.6, width: 512.8, height: 84.8, score: 0.93 }, ...]
 * ```
 */
export function detectBoxes(map: ProbabilityMap, options: DetectBoxesOptions = {}): TextBox[] {
  const { threshold, boxThreshold, minSide, unclipRatio, maxBoxes } = { ...DB_DEFAULTS, ...options };
  const boxes: TextBox[] = [];
  for (const region of findRegions(map, threshold)) {
    const width = region.maxX - region.minX + 1;
    const height = region.maxY - region.minY + 1;
    const score = region.probabilitySum / region.pixelCount;
    if (Math.min(width, height) < minSide || score < boxThreshold) continue;
    boxes.push(unclip({ x: region.minX, y: region.minY, width, height, score }, unclipRatio));
    if (boxes.length === maxBoxes) break;
  }
  return boxes;
}

/**
 * Grows a box on every side by `area × ratio / perimeter`. DB is trained to predict text
 * regions shrunk by that distance (Vatti clipping in the paper), so this restores the text's
 * full extent.
 *
 * @example
 * ```ts
 * unclip({ x: 10, y: 10, width: 10, height: 4, score: 0.9 }, 1.5);
 * // offset 10 × 4 × 1.5 / 28 ≈ 2.14: { x: 7.86, y: 7.86, width: 14.29, height: 8.29, score: 0.9 }
 * ```
 */
export function unclip(box: TextBox, ratio: number): TextBox {
  const offset = (box.width * box.height * ratio) / (2 * (box.width + box.height));
  return {
    x: box.x - offset,
    y: box.y - offset,
    width: box.width + 2 * offset,
    height: box.height + 2 * offset,
    score: box.score,
  };
}

/**
 * Maps a box from map coordinates onto the original image: scaled, rounded to whole pixels and
 * clamped to the image.
 *
 * @example
 * ```ts
 * toImageBox({ x: -2, y: 10, width: 50, height: 20, score: 0.9 }, { scaleX: 2, scaleY: 2, width: 90, height: 90 });
 * // { x: 0, y: 20, width: 90, height: 40, score: 0.9 }
 * ```
 */
export function toImageBox(
  box: TextBox,
  image: { readonly scaleX: number; readonly scaleY: number; readonly width: number; readonly height: number },
): TextBox {
  const left = clamp(Math.round(box.x * image.scaleX), image.width);
  const top = clamp(Math.round(box.y * image.scaleY), image.height);
  const right = clamp(Math.round((box.x + box.width) * image.scaleX), image.width);
  const bottom = clamp(Math.round((box.y + box.height) * image.scaleY), image.height);
  return { x: left, y: top, width: right - left, height: bottom - top, score: box.score };
}

function clamp(value: number, max: number): number {
  return Math.min(Math.max(value, 0), max);
}

interface Region {
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
  readonly probabilitySum: number;
  readonly pixelCount: number;
}

/** Yields each 8-connected region of pixels above `threshold`, in raster order of its first pixel. */
function* findRegions(map: ProbabilityMap, threshold: number): Generator<Region> {
  const { data, width, height } = map;
  const visited = new Uint8Array(width * height);
  // Flood fill with an explicit stack: a region can span the whole map, far deeper than the
  // call stack allows. Each pixel is pushed at most once, so width × height slots suffice.
  const stack = new Int32Array(width * height);
  for (let start = 0; start < data.length; start++) {
    if (visited[start] === 1 || !(data[start]! > threshold)) continue;
    let minX = width;
    let maxX = -1;
    let minY = height;
    let maxY = -1;
    let probabilitySum = 0;
    let pixelCount = 0;
    let top = 0;
    stack[top++] = start;
    visited[start] = 1;
    while (top > 0) {
      const index = stack[--top]!;
      const x = index % width;
      const y = (index - x) / width;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      probabilitySum += data[index]!;
      pixelCount++;
      const left = x > 0 ? x - 1 : x;
      const right = x < width - 1 ? x + 1 : x;
      for (let ny = y > 0 ? y - 1 : y; ny <= y + 1 && ny < height; ny++) {
        for (let neighbour = ny * width + left; neighbour <= ny * width + right; neighbour++) {
          if (visited[neighbour] === 0 && data[neighbour]! > threshold) {
            visited[neighbour] = 1;
            stack[top++] = neighbour;
          }
        }
      }
    }
    yield { minX, maxX, minY, maxY, probabilitySum, pixelCount };
  }
}
