import { describe, expect, it } from "vitest";
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
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ["rag_active_requests", "gauge"],
      ["rag_llm_calls_total", "counter"],
      ["rag_request_duration_seconds", "histogram"],
      ["something_new", "untyped"],
    ]);
    expect(text).toContain(
      'rag_request_duration_seconds_bucket{operation="ask",le="0.005"} 0\nrag_request_duration_seconds_bucket{operation="ask",le="0.1"} 1\nrag_request_duration_seconds_bucket{operation="ask",le="+Inf"} 2\nrag_request_duration_seconds_sum{operation="ask"} 0.35\nrag_request_duration_seconds_count{operation="ask"} 2\n',
    );
    expect(text).toContain("rag_active_requests 2\n");
    expect(families[3]!.samples[0]!.labels.reason).toBe('a "quoted" value');
  });

  it("is rejected by the reader when a histogram is not cumulative", () => {
    expect(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(
      /cumulative/,
    );
  });
});
