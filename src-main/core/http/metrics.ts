import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { UsageRecordInput } from "../domain/usage.js";

interface PoolStat {
  id: string;
  state?: string;
  activeSequences: number;
  queued: number;
  /** Times the model's engine process was started again after a crash. */
  restarts?: number;
}

/**
 * Prometheus metrics for one core (its own registry, so several cores in one
 * process — tests — do not collide). Request counters move from usage records;
 * engine gauges are read when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests;
  private readonly tokens;
  private readonly ttft;
  private readonly tokensPerSecond;

  constructor(poolStats: () => Promise<PoolStat[]>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "maas_process_" });
    this.requests = new Counter({
      name: "maas_requests_total",
      help: "Requests served, by operation, model and HTTP status.",
      labelNames: ["operation", "model", "status"] as const,
      registers,
    });
    this.tokens = new Counter({
      name: "maas_tokens_total",
      help: "Tokens processed, by model and kind (prompt or completion).",
      labelNames: ["model", "kind"] as const,
      registers,
    });
    this.ttft = new Histogram({
      name: "maas_time_to_first_token_seconds",
      help: "Time from request to the first generated token.",
      labelNames: ["model"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.tokensPerSecond = new Histogram({
      name: "maas_generation_tokens_per_second",
      help: "Decode speed of each generation after its first token.",
      labelNames: ["model"] as const,
      buckets: [1, 5, 10, 20, 40, 80, 160, 320, 640],
      registers,
    });
    const perModel = (name: string, help: string, pick: (s: PoolStat) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["model"] as const,
        registers,
        async collect() {
          this.reset();
          for (const stat of await poolStats()) this.set({ model: stat.id }, pick(stat));
        },
      });
    perModel("maas_queue_depth", "Requests waiting for a free sequence or context.", (s) => s.queued);
    perModel("maas_active_sequences", "Sequences generating now.", (s) => s.activeSequences);
    new Gauge({
      name: "maas_loaded_models",
      help: "Models in memory.",
      registers,
      async collect() {
        this.set((await poolStats()).filter((s) => s.state === undefined || s.state === "ready" || s.state === "loading").length);
      },
    });
    perModel(
      "maas_engine_restarts",
      "Times a model's engine process was started again after it crashed.",
      (s) => s.restarts ?? 0,
    );
    new Gauge({
      name: "maas_model_state",
      help: "1 for each model's current engine state (loading, ready, crashed, failed, error).",
      labelNames: ["model", "state"] as const,
      registers,
      async collect() {
        this.reset();
        for (const stat of await poolStats()) if (stat.state) this.set({ model: stat.id, state: stat.state }, 1);
      },
    });
  }

  observe(record: UsageRecordInput): void {
    const model = record.model ?? "";
    this.requests.inc({ operation: record.operation, model, status: String(record.status) });
    if (record.promptTokens) this.tokens.inc({ model, kind: "prompt" }, record.promptTokens);
    if (record.completionTokens) this.tokens.inc({ model, kind: "completion" }, record.completionTokens);
    if (record.ttftMs !== null) {
      this.ttft.observe({ model }, record.ttftMs / 1000);
      const decodeMs = record.durationMs - record.ttftMs;
      if (record.completionTokens > 1 && decodeMs > 0) {
        this.tokensPerSecond.observe({ model }, (record.completionTokens - 1) / (decodeMs / 1000));
      }
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
