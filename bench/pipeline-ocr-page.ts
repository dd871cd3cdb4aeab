/**
 * The page the OCR benchmark reads: three lines of text in three fonts on a 1100×520 white
 * page, as a PNG (about 19 kB). Rendered with sharp the same way in every process, so each of the
 * benchmark's processes reads the same bytes.
 */
import sharp from "sharp";

/** The lines on the page, top to bottom; every form of the pipeline must read exactly these. */
export const benchPageLines = ["HELLO WORLD 123", "SageMaker OCR pipeline", "detects text lines, 42%"] as const;

/**
 * Renders the page.
 *
 * @example
 * ```ts
 * const png = await renderBenchPage();
 * ```
 */
export async function renderBenchPage(): Promise<Buffer> {
  const fonts = [
    ["DejaVu Sans", 56, 60, 120],
    ["DejaVu Serif", 40, 200, 280],
    ["DejaVu Sans Mono", 32, 100, 440],
  ] as const;
  const texts = benchPageLines.map((text, index) => {
    const [font, size, x, y] = fonts[index] as (typeof fonts)[number];
    return `<text x="${x}" y="${y}" font-family="${font}" font-size="${size}" fill="black">${text}</text>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1100" height="520"><rect width="100%" height="100%" fill="white"/>${texts.join("")}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
