// A strict reader of the Prometheus text exposition format 0.0.4, for tests: every line must be a
// HELP or TYPE comment or a sample `name{label="value",…} value`; a metric's samples must follow
// its TYPE line; histogram buckets must be cumulative and end with le="+Inf" equal to _count.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels: {${text}}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  }
  return labels;
}

const parseValue = (v: string) => {
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v === "NaN") return NaN;
  if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)) throw new Error(`bad value: ${v}`);
  return Number(v);
};

export function parsePrometheus(text: string): Family[] {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families: Family[] = [];
  let current: Family | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ")) {
      const [metric, ...help] = line.slice("# HELP ".length).split(" ");
      if (!NAME.test(metric!)) throw new Error(`bad HELP: ${line}`);
      current = { name: metric!, type: "untyped", help: help.join(" "), samples: [] };
      families.push(current);
    } else if (line.startsWith("# TYPE ")) {
      const [, , metric, type] = line.split(" ");
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type!)) throw new Error(`bad TYPE: ${line}`);
      if (current && current.name === metric && current.samples.length === 0) current.type = type!;
      else {
        current = { name: metric!, type: type!, help: "", samples: [] };
        families.push(current);
      }
    } else if (line.startsWith("#") || line === "") {
    } else {
      const m = SAMPLE.exec(line);
      if (!m) throw new Error(`bad sample line: ${line}`);
      const [, name, labels, value] = m;
      const family = current?.type === "histogram" ? name!.replace(/_(bucket|sum|count)$/, "") : name;
      if (!current || current.name !== family) throw new Error(`sample outside its family: ${line}`);
      current.samples.push({ name: name!, labels: labels ? parseLabels(labels) : {}, value: parseValue(value!) });
    }
  }
  for (const f of families.filter((x) => x.type === "histogram")) {
    const sets = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le: _, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      sets.set(key, [...(sets.get(key) ?? []), s]);
    }
    for (const samples of sets.values()) {
      const buckets = samples.filter((s) => s.name.endsWith("_bucket"));
      for (let i = 1; i < buckets.length; i++) {
        if (parseValue(buckets[i]!.labels.le!) <= parseValue(buckets[i - 1]!.labels.le!))
          throw new Error(`${f.name}: buckets out of order`);
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${f.name}: buckets not cumulative`);
      }
      const count = samples.find((s) => s.name.endsWith("_count"));
      if (buckets.at(-1)?.labels.le !== "+Inf" || buckets.at(-1)!.value !== count?.value)
        throw new Error(`${f.name}: +Inf bucket must equal _count`);
    }
  }
  return families;
}
