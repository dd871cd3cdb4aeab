import { BadRequestError } from "../errors.js";

/**
 * The shape a nested array claims, read along the first element at each depth:
 * `[[1, 2, 3], [4, 5, 6]]` → `[2, 3]`, a scalar → `[]`. {@link flattenNested} checks the rest.
 *
 * @example
 * ```ts
 * leadingShape([[5.1, 3.5, 1.4, 0.2]]); // [1, 4]
 * ```
 */
export function leadingShape(value: unknown): number[] {
  const shape: number[] = [];
  let node = value;
  while (Array.isArray(node)) {
    shape.push(node.length);
    node = node[0];
  }
  return shape;
}

/**
 * The leaves of `value` in row-major order, after checking that every sub-array has the length
 * `shape` gives at its depth. `label` starts the error messages (`input "x"`).
 *
 * @example
 * ```ts
 * flattenNested([[1, 2], [3, 4]], [2, 2], 'input "x"'); // [1, 2, 3, 4]
 * flattenNested([[1, 2], [3]], [2, 2], 'input "x"');
 * // throws BadRequestError: input "x": ragged array at [1]: expected 2 values, got 1
 * ```
 */
export function flattenNested(value: unknown, shape: readonly number[], label: string): unknown[] {
  const leaves: unknown[] = [];
  const path: number[] = [];
  const ragged = (problem: string): BadRequestError =>
    new BadRequestError(`${label}: ragged array at [${path.join(", ")}]: ${problem}`);

  const visit = (node: unknown, depth: number): void => {
    const expected = shape[depth];
    if (expected === undefined) {
      if (Array.isArray(node)) throw ragged(`expected a single value, got a list of ${node.length}`);
      leaves.push(node);
      return;
    }
    if (!Array.isArray(node)) throw ragged(`expected a list of ${expected} values, got a single value`);
    if (node.length !== expected) throw ragged(`expected ${expected} values, got ${node.length}`);
    for (let index = 0; index < node.length; index++) {
      path.push(index);
      visit(node[index], depth + 1);
      path.pop();
    }
  };

  visit(value, 0);
  return leaves;
}
