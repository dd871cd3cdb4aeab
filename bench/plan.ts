/**
 * Which cells a run measures and for how long: the full matrix (`npm run bench`), or the quick
 * one CI may call (`npm run bench:quick`, under 2 minutes), which keeps the cells the targets
 * are judged on and shortens every window.
 */
import type { Contender } from "./contenders.js";
import type { CellSizes } from "./measure.js";
import type { ModelId, RequestKind } from "./workloads.js";

/**
 * One model and request kind, at these concurrencies.
 *
 * @example
 * ```ts
 * const cell: PlannedCell = { model: "mlp", request: "json-1", concurrencies: [1, 8, 64] };
 * ```
 */
export interface PlannedCell {
  readonly model: ModelId;
  readonly request: RequestKind;
  readonly concurrencies: readonly number[];
  /** The kinds of contender measured; every kind when absent. */
  readonly contenders?: readonly Contender["kind"][];
  /** Also measure the toolkit with batching the other way from its default (the batching target). */
  readonly batchingContrast?: boolean;
}

/**
 * A run's plan.
 *
 * @example
 * ```ts
 * const plan = runPlan("quick");
 * plan.cells.length; // 4
 * ```
 */
export interface RunPlan {
  readonly mode: "full" | "quick";
  readonly cells: readonly PlannedCell[];
  readonly sizes: CellSizes;
  /** How long the in-process floor calls each pipeline, after a warm-up of a quarter of it. */
  readonly floorSeconds: number;
  /** Whether to measure each model's resident memory with 1 and with N workers. */
  readonly memory: boolean;
}

const allConcurrencies = [1, 8, 64] as const;

const full: RunPlan = {
  mode: "full",
  cells: [
    ...(["iris", "mlp"] as const).flatMap((model) =>
      (["json-1", "json-64", "npy-64"] as const).map((request) => ({ model, request, concurrencies: allConcurrencies, batchingContrast: request === "json-1" })),
    ),
    ...(["png", "jpeg", "npy-tensor"] as const).map((request) => ({ model: "ocr" as const, request, concurrencies: allConcurrencies })),
  ],
  sizes: { seconds: 10, warmUpSeconds: 2, pings: 300 },
  floorSeconds: 3,
  memory: true,
};

/**
 * Each target's cells and no more: the contenders it compares, at the concurrencies it names, and
 * the minimal server beside the MLP's 64 rows, whose rate the line under a missed target quotes.
 */
const quick: RunPlan = {
  mode: "quick",
  cells: [
    { model: "iris", request: "json-1", concurrencies: [1, 8], contenders: ["minimal", "toolkit"] },
    { model: "mlp", request: "json-1", concurrencies: [8, 64], batchingContrast: true },
    { model: "mlp", request: "json-64", concurrencies: [8], contenders: ["minimal", "toolkit", "python"] },
    { model: "ocr", request: "png", concurrencies: [1], contenders: ["toolkit"] },
  ],
  sizes: { seconds: 1.5, warmUpSeconds: 0.5, pings: 40 },
  floorSeconds: 1,
  memory: false,
};

/**
 * The plan for `mode`, limited to `models` when given.
 *
 * @example
 * ```ts
 * runPlan("full", ["ocr"]).cells.map((cell) => cell.request); // ["png", "jpeg", "npy-tensor"]
 * ```
 */
export function runPlan(mode: "full" | "quick", models?: readonly ModelId[]): RunPlan {
  const plan = mode === "full" ? full : quick;
  return models === undefined ? plan : { ...plan, cells: plan.cells.filter((cell) => models.includes(cell.model)) };
}
