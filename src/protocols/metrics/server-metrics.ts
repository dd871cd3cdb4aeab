import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { LoadReport } from "../../dispatch/worker-protocol.js";
import type { StageTimings } from "../../pipeline/inference-pipeline.js";
import type { DataPlane } from "../../dispatch/data-plane.js";
import { batchSizeBuckets, HistogramFamily, latencyBuckets, type HistogramSeries } from "./histogram.js";

/** HTTP statuses are three digits; a request the client left before its answer counts as 499. */
const statusSlots = 600;

/**
 * Counts the requests of one route by status and times them, with no lookup per request: created
 * once per route, kept by its handler.
 *
 * @example
 * ```ts
 * const invocations = metrics.route("/invocations");
 * invocations.observe(200, 0.0012);
 * ```
 */
export class RouteObserver {
  readonly #counts: Float64Array;
  readonly #duration: HistogramSeries;

  constructor(counts: Float64Array, duration: HistogramSeries) {
    this.#counts = counts;
    this.#duration = duration;
  }

  /** One request of this route answered with `status` after `seconds`. */
  observe(status: number, seconds: number): void {
    if (status >= 0 && status < statusSlots) this.#counts[status] = (this.#counts[status] as number) + 1;
    this.#duration.observe(seconds);
  }
}

/**
 * Times the stages of one model's requests (queue, decode, predict, encode), series created once;
 * for a pipeline of stages (docs/pipelines.md), also each of its stages that ran, by name, with
 * each name's series created on its first request; for a batched model, the rows and requests of
 * each run, noted on the run's first request, with the series created on the first such request
 * (a model that is not batched has none).
 *
 * @example
 * ```ts
 * metrics.stages("iris").observe(result.timings);
 * ```
 */
export class StageObserver {
  readonly #queue: HistogramSeries;
  readonly #decode: HistogramSeries;
  readonly #predict: HistogramSeries;
  readonly #encode: HistogramSeries;
  readonly #pipelineStages: HistogramFamily;
  readonly #batches: BatchFamilies;
  readonly #model: string;
  readonly #byPipelineStage = new Map<string, HistogramSeries>();
  #batchRows: HistogramSeries | undefined;
  #batchRequests: HistogramSeries | undefined;

  constructor(family: HistogramFamily, pipelineStages: HistogramFamily, batches: BatchFamilies, model: string) {
    this.#queue = family.series({ model, stage: "queue" });
    this.#decode = family.series({ model, stage: "decode" });
    this.#predict = family.series({ model, stage: "predict" });
    this.#encode = family.series({ model, stage: "encode" });
    this.#pipelineStages = pipelineStages;
    this.#batches = batches;
    this.#model = model;
  }

  /** One request's timings, in milliseconds as the pipeline measures them. */
  observe(timings: StageTimings): void {
    this.#queue.observe(timings.queueMs / 1000);
    this.#decode.observe(timings.decodeMs / 1000);
    this.#predict.observe(timings.predictMs / 1000);
    this.#encode.observe(timings.encodeMs / 1000);
    if (timings.batch !== undefined) {
      (this.#batchRows ??= this.#batches.rows.series({ model: this.#model })).observe(timings.batch.rows);
      (this.#batchRequests ??= this.#batches.requests.series({ model: this.#model })).observe(timings.batch.requests);
    }
    if (timings.stages === undefined) return;
    for (const [stage, ms] of Object.entries(timings.stages)) {
      let series = this.#byPipelineStage.get(stage);
      if (series === undefined) this.#byPipelineStage.set(stage, (series = this.#pipelineStages.series({ model: this.#model, stage })));
      series.observe(ms / 1000);
    }
  }
}

/** The two histograms of dynamic batching's runs: rows per run and requests per run. */
interface BatchFamilies {
  readonly rows: HistogramFamily;
  readonly requests: HistogramFamily;
}

/**
 * The server's Prometheus metrics (docs/metrics.md lists each, its labels and what it measures).
 * Request paths update plain counters through {@link RouteObserver} and {@link StageObserver},
 * created once; everything read from elsewhere (in-flight requests, model readiness and memory,
 * process metrics) is read when `/metrics` is scraped.
 *
 * New families belong here, one field each, named after Prometheus's conventions (a `byoc_`
 * prefix, base units, `_total` for counters; docs/metrics.md).
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics({ models, defaultMetrics: true });
 * const text = await metrics.exposition();
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #models: DataPlane;
  readonly #requestCounts = new Map<string, Float64Array>();
  readonly #durations = new HistogramFamily(
    "byoc_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route (queueing, body reading and inference included)",
    latencyBuckets,
  );
  readonly #stages = new HistogramFamily(
    "byoc_inference_stage_duration_seconds",
    "Time a request spent in each stage: waiting for a worker (queue), decode, predict and encode, by model",
    latencyBuckets,
  );
  readonly #pipelineStages = new HistogramFamily(
    "byoc_pipeline_stage_duration_seconds",
    "Time each stage of a pipeline of stages took, by model and stage name (within the predict stage)",
    latencyBuckets,
  );
  readonly #batches: BatchFamilies = {
    rows: new HistogramFamily("byoc_batch_size_rows", "Rows per session.run of a dynamically batched model, by model (one observation per run)", batchSizeBuckets),
    requests: new HistogramFamily(
      "byoc_batch_size_requests",
      "Requests per session.run of a dynamically batched model, by model (1: a request that ran alone)",
      batchSizeBuckets,
    ),
  };
  readonly #stageObservers = new Map<string, StageObserver>();
  readonly #loads = new Map<string, { success: number; failure: number }>();
  #inFlight: () => number = () => 0;

  constructor(options: { readonly models: DataPlane; readonly defaultMetrics: boolean }) {
    this.#models = options.models;
    const registers = [this.registry];
    const counts = this.#requestCounts;
    const loads = this.#loads;
    const models = this.#models;
    const inFlight = (): number => this.#inFlight();
    new Counter({
      name: "byoc_http_requests_total",
      help: "HTTP requests answered, by route and status (499: the client left before the answer)",
      labelNames: ["route", "status"],
      registers,
      collect() {
        this.reset();
        for (const [route, byStatus] of counts) {
          byStatus.forEach((count, status) => {
            if (count > 0) this.inc({ route, status: String(status) }, count);
          });
        }
      },
    });
    new Gauge({
      name: "byoc_http_requests_in_flight",
      help: "Inference requests admitted or waiting for admission",
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    new Counter({
      name: "byoc_model_loads_total",
      help: "Model loads, by model and result (success or failure)",
      labelNames: ["model", "result"],
      registers,
      collect() {
        this.reset();
        for (const [model, { success, failure }] of loads) {
          if (success > 0) this.inc({ model, result: "success" }, success);
          if (failure > 0) this.inc({ model, result: "failure" }, failure);
        }
      },
    });
    new Gauge({
      name: "byoc_model_ready",
      help: "1 while the model can take requests, 0 while it loads or after its load failed",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const model of models.models()) this.set({ model: model.name }, model.ready ? 1 : 0);
      },
    });
    const reportGauge = (name: string, help: string, value: (report: LoadReport) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ["model"],
        registers,
        collect() {
          this.reset();
          for (const { name: model } of models.models()) {
            const report = models.report(model);
            if (report !== undefined) this.set({ model }, value(report));
          }
        },
      });
    };
    reportGauge("byoc_model_load_duration_seconds", "How long the model's last load took, warm-up included", (report) => report.loadMs / 1000);
    reportGauge("byoc_model_memory_bytes", "Resident memory the model's last load added to the process (ONNX Runtime allocates natively)", (report) => report.memoryBytes);
    this.registry.registerMetric(this.#durations.asMetric());
    this.registry.registerMetric(this.#stages.asMetric());
    this.registry.registerMetric(this.#pipelineStages.asMetric());
    this.registry.registerMetric(this.#batches.rows.asMetric());
    this.registry.registerMetric(this.#batches.requests.asMetric());
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The observer of `route` (a route template such as `/v2/models/:model/infer`), created on first use. */
  route(route: string): RouteObserver {
    let counts = this.#requestCounts.get(route);
    if (counts === undefined) this.#requestCounts.set(route, (counts = new Float64Array(statusSlots)));
    return new RouteObserver(counts, this.#durations.series({ route }));
  }

  /** The stage observer of `model`, created on first use. */
  stages(model: string): StageObserver {
    let observer = this.#stageObservers.get(model);
    if (observer === undefined) this.#stageObservers.set(model, (observer = new StageObserver(this.#stages, this.#pipelineStages, this.#batches, model)));
    return observer;
  }

  /** Counts a load of `model` that succeeded or failed. */
  modelLoad(model: string, result: "success" | "failure"): void {
    let counts = this.#loads.get(model);
    if (counts === undefined) this.#loads.set(model, (counts = { success: 0, failure: 0 }));
    counts[result]++;
  }

  /** Where the in-flight gauge reads its value when scraped (the admission control of the inference routes). */
  trackInFlight(read: () => number): void {
    this.#inFlight = read;
  }

  /** The Content-Type of {@link ServerMetrics.exposition}: Prometheus's text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus's text format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
