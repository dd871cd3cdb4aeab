import { Tensor, type InferenceSession } from "onnxruntime-node";
import type { Logger } from "pino";
import type { PredictNotes } from "../model.js";
import { toRunError } from "./predict.js";

/**
 * How concurrent requests to one model are merged (dynamic batching).
 *
 * @example
 * ```ts
 * const settings: BatchingSettings = { maxBatchSize: 32, maxDelayMs: 0 };
 * ```
 */
export interface BatchingSettings {
  /** Most rows in one merged run; 1 turns batching off. */
  readonly maxBatchSize: number;
  /**
   * How long the first request of a batch may wait for others, in milliseconds. 0 merges only
   * what is already waiting when the model is free, so it never adds latency.
   */
  readonly maxDelayMs: number;
}

type Feeds = Record<string, Tensor>;
type Outputs = InferenceSession.ReturnType;

interface Entry {
  readonly feeds: Feeds;
  readonly rows: number;
  /** Inputs that must match to share a run: names, element types and every dimension but the first. */
  readonly key: string;
  readonly signal: AbortSignal | undefined;
  /** Where the run this request leads is noted (its first request's), for the metrics. */
  readonly notes: PredictNotes | undefined;
  readonly resolve: (outputs: Outputs) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Merges concurrent runs of one ONNX session along the batch dimension: requests that wait
 * together and have compatible inputs (same names, element types and non-batch dimensions) run
 * as one `session.run` of up to `maxBatchSize` rows, counting each request's own rows, and each
 * gets back exactly its rows of every output. A request whose signal fired (time limit, client
 * gone) is dropped before the run. When a merged run fails, its requests run one by one, so one
 * request's bad input fails only that request. Use only for sessions {@link batchAxisOf} accepts.
 * Each run that answers is noted, with its rows and requests, in the `notes` of the request that
 * came first in it.
 *
 * @example
 * ```ts
 * const batcher = new OnnxBatcher(session, { maxBatchSize: 32, maxDelayMs: 0 }, log);
 * const outputs = await batcher.run(feeds, ctx.signal, notes);
 * ```
 */
export class OnnxBatcher {
  readonly #session: InferenceSession;
  readonly #settings: BatchingSettings;
  readonly #log: Logger;
  #waiting: Entry[] = [];
  #scheduled = false;

  constructor(session: InferenceSession, settings: BatchingSettings, log: Logger) {
    this.#session = session;
    this.#settings = settings;
    this.#log = log;
  }

  /**
   * Runs `feeds` (inputs whose first dimension is the batch), possibly together with others;
   * `notes` get the run when this request leads it.
   */
  run(feeds: Feeds, signal?: AbortSignal, notes?: PredictNotes): Promise<Outputs> {
    const rows = rowsOf(feeds);
    if (rows >= this.#settings.maxBatchSize) return this.#runAlone(feeds, rows, notes);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ feeds, rows, key: compatibilityKey(feeds), signal, notes, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate runs after the worker has taken every message already queued for it, so the
    // requests that arrived while the model was busy are all decoded and waiting here by then.
    const flush = (): void => {
      this.#scheduled = false;
      void this.#flush();
    };
    if (this.#settings.maxDelayMs > 0 && this.#waitingRows() < this.#settings.maxBatchSize) setTimeout(flush, this.#settings.maxDelayMs);
    else setImmediate(flush);
  }

  #waitingRows(): number {
    return this.#waiting.reduce((sum, entry) => sum + entry.rows, 0);
  }

  async #flush(): Promise<void> {
    const entries = this.#waiting;
    this.#waiting = [];
    const live = entries.filter((entry) => {
      if (entry.signal?.aborted !== true) return true;
      entry.reject(entry.signal.reason);
      return false;
    });
    for (const batch of this.#batches(live)) {
      if (batch.length === 1) {
        const [only] = batch as [Entry];
        await this.#runAlone(only.feeds, only.rows, only.notes).then(only.resolve, only.reject);
      } else {
        await this.#runMerged(batch);
      }
    }
  }

  /** Groups compatible entries, in arrival order, into runs of at most `maxBatchSize` rows. */
  #batches(entries: readonly Entry[]): Entry[][] {
    const byKey = new Map<string, Entry[][]>();
    for (const entry of entries) {
      let runs = byKey.get(entry.key);
      if (runs === undefined) byKey.set(entry.key, (runs = [[]]));
      let current = runs[runs.length - 1] as Entry[];
      if (current.length > 0 && rowsIn(current) + entry.rows > this.#settings.maxBatchSize) runs.push((current = []));
      current.push(entry);
    }
    return [...byKey.values()].flat();
  }

  async #runMerged(batch: readonly Entry[]): Promise<void> {
    const rows = batch.map((entry) => entry.rows);
    let outputs: Outputs;
    try {
      outputs = await this.#session.run(mergeFeeds(batch.map((entry) => entry.feeds)));
    } catch (error) {
      this.#log.debug({ requests: batch.length, reason: (error as Error).message }, "merged run failed; running its requests one by one");
      for (const entry of batch) await this.#runAlone(entry.feeds, entry.rows, entry.notes).then(entry.resolve, entry.reject);
      return;
    }
    const run = { rows: rows.reduce((a, b) => a + b, 0), requests: batch.length };
    const [leader] = batch as [Entry];
    if (leader.notes !== undefined) leader.notes.batchRun = run;
    this.#log.debug(run, "batched run");
    const parts = splitOutputs(outputs, rows);
    batch.forEach((entry, index) => entry.resolve(parts[index] as Outputs));
  }

  async #runAlone(feeds: Feeds, rows: number, notes: PredictNotes | undefined): Promise<Outputs> {
    let outputs: Outputs;
    try {
      outputs = await this.#session.run(feeds);
    } catch (error) {
      throw toRunError(error);
    }
    if (notes !== undefined) notes.batchRun = { rows, requests: 1 };
    return outputs;
  }
}

/**
 * The batch dimension's name when every input and every output of `session` starts with the same
 * variable dimension (`["batch", 4]` in, `["batch", 3]` out): only then can rows of different
 * requests share a run and be split back. `undefined` for any other model, which is never batched.
 *
 * @example
 * ```ts
 * batchAxisOf(irisSession); // "batch"
 * ```
 */
export function batchAxisOf(session: InferenceSession): string | undefined {
  const firstDims = [...session.inputMetadata, ...session.outputMetadata].map((metadata) =>
    metadata.isTensor && metadata.shape.length > 0 ? metadata.shape[0] : undefined,
  );
  const [first] = firstDims;
  if (typeof first !== "string" || first === "") return undefined;
  if (session.inputMetadata.some((metadata) => metadata.isTensor && metadata.type === "string")) return undefined;
  return firstDims.every((dim) => dim === first) ? first : undefined;
}

/**
 * Checks, once at load, that merging rows does not change a model's answers: two different rows
 * run together must give, bit for bit, what each gives alone. Models whose rows interact (a
 * normalisation over the batch, attention across a first dimension that is really a sequence), or
 * whose kernels round differently by batch size, fail it and are served unbatched. Rows are
 * deterministic pseudo-random values in each input's type.
 *
 * @example
 * ```ts
 * if (!(await rowsAreIndependent(session))) log.warn("served unbatched");
 * ```
 */
export async function rowsAreIndependent(session: InferenceSession): Promise<boolean> {
  const single = (row: number): Feeds => Object.fromEntries(session.inputMetadata.map((metadata) => [metadata.name, sampleTensor(metadata, row, 1)]));
  const pair: Feeds = Object.fromEntries(session.inputMetadata.map((metadata) => [metadata.name, sampleTensor(metadata, 0, 2)]));
  try {
    const together = splitOutputs(await session.run(pair), [1, 1]);
    for (const row of [0, 1]) {
      const alone = await session.run(single(row));
      for (const name of session.outputNames) {
        if (!sameBits(alone[name] as Tensor, (together[row] as Outputs)[name] as Tensor)) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

function sampleTensor(metadata: InferenceSession.ValueMetadata, firstRow: number, rows: number): Tensor {
  if (!metadata.isTensor) throw new TypeError(`input ${metadata.name} is not a tensor`);
  const shape = metadata.shape.map((dim, axis) => (axis === 0 ? rows : typeof dim === "number" && dim > 0 ? dim : 1));
  const perRow = shape.slice(1).reduce((product, dim) => product * dim, 1);
  const values = Array.from({ length: rows * perRow }, (_, index) => {
    const seed = (firstRow * perRow + index + 1) * 2654435761;
    return ((seed % 1000) / 1000) * 2 - 1;
  });
  switch (metadata.type) {
    case "float32":
      return new Tensor("float32", Float32Array.from(values), shape);
    case "float64":
      return new Tensor("float64", Float64Array.from(values), shape);
    case "int32":
      return new Tensor("int32", Int32Array.from(values, (value) => (value > 0 ? 1 : 0)), shape);
    case "int64":
      return new Tensor("int64", BigInt64Array.from(values, (value) => (value > 0 ? 1n : 0n)), shape);
    case "bool":
      return new Tensor("bool", Uint8Array.from(values, (value) => (value > 0 ? 1 : 0)), shape);
    default:
      throw new TypeError(`no sample values for ${metadata.type}`);
  }
}

function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.type !== b.type || a.dims.join() !== b.dims.join()) return false;
  const left = a.data as ArrayBufferView;
  const right = b.data as ArrayBufferView;
  return Buffer.from(left.buffer, left.byteOffset, left.byteLength).equals(Buffer.from(right.buffer, right.byteOffset, right.byteLength));
}

function rowsOf(feeds: Feeds): number {
  const [first] = Object.values(feeds);
  return first?.dims[0] ?? 1;
}

function rowsIn(entries: readonly Entry[]): number {
  return entries.reduce((sum, entry) => sum + entry.rows, 0);
}

function compatibilityKey(feeds: Feeds): string {
  return Object.entries(feeds)
    .map(([name, tensor]) => `${name}:${tensor.type}:${tensor.dims.slice(1).join("x")}`)
    .sort()
    .join("|");
}

/** Concatenates each input along the first dimension, in order. */
function mergeFeeds(all: readonly Feeds[]): Feeds {
  const [first] = all as [Feeds];
  return Object.fromEntries(
    Object.entries(first).map(([name, tensor]) => {
      const parts = all.map((feeds) => feeds[name] as Tensor);
      const rows = parts.reduce((sum, part) => sum + (part.dims[0] ?? 0), 0);
      return [name, new Tensor(tensor.type, concatData(parts.map((part) => part.data)), [rows, ...tensor.dims.slice(1)])];
    }),
  );
}

type TensorData = Tensor["data"];

function concatData(parts: readonly TensorData[]): TensorData {
  const [first] = parts as [TensorData];
  if (Array.isArray(first)) return (parts as readonly string[][]).flat();
  const views = parts as readonly ArrayBufferView[];
  const length = views.reduce((sum, view) => sum + (view as unknown as { length: number }).length, 0);
  const Constructor = (first as unknown as { constructor: new (length: number) => { set(source: ArrayLike<unknown>, offset: number): void } }).constructor;
  const merged = new Constructor(length);
  let offset = 0;
  for (const view of views) {
    merged.set(view as unknown as ArrayLike<unknown>, offset);
    offset += (view as unknown as { length: number }).length;
  }
  return merged as unknown as TensorData;
}

/** Cuts every output along the first dimension into one part per request, `rows` each. */
function splitOutputs(outputs: Outputs, rows: readonly number[]): Outputs[] {
  const parts: Outputs[] = rows.map(() => ({}));
  for (const [name, tensor] of Object.entries(outputs)) {
    const total = tensor.dims[0] ?? 0;
    const perRow = total === 0 ? 0 : (tensor.data as { length: number }).length / total;
    let start = 0;
    rows.forEach((count, index) => {
      const data = (tensor.data as { slice(start: number, end: number): TensorData }).slice(start * perRow, (start + count) * perRow);
      (parts[index] as Record<string, Tensor>)[name] = new Tensor(tensor.type, data, [count, ...tensor.dims.slice(1)]);
      start += count;
    });
  }
  return parts;
}
