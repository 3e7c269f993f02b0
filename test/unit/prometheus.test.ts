import { describe, expect, it } from "vitest";
import { DURATION_BUCKETS, METRICS } from "../../src/observability/catalog";
import { counters, metrics } from "../../src/observability/counters";
import { renderPrometheus } from "../../src/observability/exposition";
import { parsePrometheus } from "../worker/support/prometheus";

describe("Prometheus exposition", () => {
  it("renders counters, gauges and labelled histograms that a strict reader accepts", () => {
    const text = renderPrometheus({
      'rag_llm_calls_total{provider="openai"}': 3,
      'rag_llm_calls_total{provider="extractive"}': 1,
      "rag_active_requests{}": 2,
      'rag_request_duration_seconds_bucket{le="0.1",operation="ask"}': 1,
      'rag_request_duration_seconds_bucket{le="+Inf",operation="ask"}': 2,
      'rag_request_duration_seconds_bucket{le="0.005",operation="ask"}': 0,
      'rag_request_duration_seconds_sum{operation="ask"}': 0.35,
      'rag_request_duration_seconds_count{operation="ask"}': 2,
      'rag_request_duration_seconds_bucket{le="+Inf",operation="health"}': 1,
      'rag_request_duration_seconds_bucket{le="0.1",operation="health"}': 1,
      'rag_request_duration_seconds_count{operation="health"}': 1,
      'rag_request_duration_seconds_sum{operation="health"}': 0.01,
      'something_new{reason="a \\"quoted\\" value"}': 1,
    });
    const families = parsePrometheus(text);
    const typeOf = (name: string) => families.find((f) => f.name === name)?.type;
    expect(typeOf("rag_active_requests")).toBe("gauge");
    expect(typeOf("rag_llm_calls_total")).toBe("counter");
    expect(typeOf("rag_request_duration_seconds")).toBe("histogram");
    expect(typeOf("something_new")).toBe("untyped");
    expect(families.map((f) => f.name)).toEqual(families.map((f) => f.name).sort());
    expect(text).toContain(
      'rag_request_duration_seconds_bucket{operation="ask",le="0.05"} 0\nrag_request_duration_seconds_bucket{operation="ask",le="0.1"} 1\nrag_request_duration_seconds_bucket{operation="ask",le="0.25"} 1\n',
    );
    expect(text).toContain(
      'rag_request_duration_seconds_bucket{operation="ask",le="30"} 1\nrag_request_duration_seconds_bucket{operation="ask",le="+Inf"} 2\nrag_request_duration_seconds_sum{operation="ask"} 0.35\nrag_request_duration_seconds_count{operation="ask"} 2\n',
    );
    expect(text).toContain("rag_active_requests 2\n");
    expect(text).toContain('rag_llm_calls_total{provider="extractive"} 1\nrag_llm_calls_total{provider="openai"} 3\n');
    expect(families.find((f) => f.name === "something_new")!.samples[0]!.labels.reason).toBe('a "quoted" value');
  });

  it("is rejected by the reader when a histogram is not cumulative", () => {
    expect(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(
      /cumulative/,
    );
  });
});

describe("/metrics from start-up", () => {
  it("exposes every documented metric with its HELP and TYPE before anything is counted", () => {
    const families = parsePrometheus(renderPrometheus({}));
    for (const [name, spec] of Object.entries(METRICS)) {
      const family = families.find((f) => f.name === name);
      expect(family, name).toMatchObject({ type: spec.type, help: spec.help });
    }
    expect(families.map((f) => f.name).sort()).toEqual(Object.keys(METRICS).sort());
  });

  it("shows unlabelled counters and the gauge at 0, and labelled counters at 0 for each label set known in advance", () => {
    const text = renderPrometheus({});
    for (const line of [
      "rag_active_requests 0",
      "rag_coalesced_requests_total 0",
      "rag_rate_limited_total 0",
      "rag_db_clients_total 0",
      'rag_cache_hits_total{cache_level="l1",kind="answer"} 0',
      'rag_cache_misses_total{cache_level="semantic",kind="answer"} 0',
      'rag_llm_calls_total{provider="extractive"} 0',
      'rag_fallbacks_total{kind="chat"} 0',
      'rag_errors_total{kind="database-unavailable"} 0',
      'rag_durable_object_requests_total{object="metrics"} 0',
    ])
      expect(text).toContain(`\n${line}\n`);
    const families = parsePrometheus(text);
    for (const family of families) for (const sample of family.samples) expect(sample.value, sample.name).toBe(0);
    // Its model label comes from configuration: nothing to show until an answer is generated.
    expect(families.find((f) => f.name === "rag_tokens_used_total")!.samples).toEqual([]);
    // A histogram's label sets are the requests it has seen.
    expect(families.find((f) => f.name === "rag_request_duration_seconds")!.samples).toEqual([]);
  });

  it("keeps what was counted in place of the zeros", () => {
    const families = parsePrometheus(renderPrometheus({ 'rag_fallbacks_total{kind="chat"}': 4, "rag_rate_limited_total{}": 2 }));
    const samples = (name: string) => families.find((f) => f.name === name)!.samples;
    expect(samples("rag_fallbacks_total").find((s) => s.labels.kind === "chat")!.value).toBe(4);
    expect(samples("rag_rate_limited_total")).toEqual([{ name: "rag_rate_limited_total", labels: {}, value: 2 }]);
  });
});

describe("histogram buckets", () => {
  const bucketsOf = (text: string, operation: string) =>
    parsePrometheus(text)
      .find((f) => f.name === "rag_request_duration_seconds")!
      .samples.filter((s) => s.labels.operation === operation);

  it("exports every bucket, +Inf, _sum and _count from a label set's first observation, however slow it was", () => {
    const operation = `slow-${crypto.randomUUID()}`;
    metrics.observe("rag_request_duration_seconds", { operation, model: "none", cache_hit: "none" }, 3);
    const samples = bucketsOf(renderPrometheus(counters.snapshot()), operation);
    expect(samples.map((s) => [s.name.replace("rag_request_duration_seconds", ""), s.labels.le, s.value])).toEqual([
      ...DURATION_BUCKETS.map((le) => ["_bucket", String(le), le >= 3 ? 1 : 0]),
      ["_bucket", "+Inf", 1],
      ["_sum", undefined, 3],
      ["_count", undefined, 1],
    ]);
  });

  it("fills the buckets that stored totals lack (counted before this version) from the ones they have", () => {
    const samples = bucketsOf(
      renderPrometheus({
        'rag_request_duration_seconds_bucket{le="0.5",operation="ask"}': 2,
        'rag_request_duration_seconds_bucket{le="1",operation="ask"}': 3,
        'rag_request_duration_seconds_bucket{le="+Inf",operation="ask"}': 5,
        'rag_request_duration_seconds_sum{operation="ask"}': 40,
        'rag_request_duration_seconds_count{operation="ask"}': 5,
      }),
      "ask",
    );
    const bucket = (le: string) => samples.find((s) => s.name.endsWith("_bucket") && s.labels.le === le)?.value;
    expect(samples.filter((s) => s.name.endsWith("_bucket"))).toHaveLength(DURATION_BUCKETS.length + 1);
    expect([bucket("0.005"), bucket("0.25"), bucket("0.5"), bucket("1"), bucket("2.5"), bucket("30"), bucket("+Inf")]).toEqual([
      0, 0, 2, 3, 3, 3, 5,
    ]);
  });
});
