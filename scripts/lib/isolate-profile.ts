// CPU time of the Worker isolate, from V8's sampling profiler through the inspector: every sample
// carries the time since the one before; the samples that are not "(idle)" add up to the CPU the
// isolate spent (JavaScript, garbage collection and the runtime's native work on its thread).
import type { Inspector } from "./inspector.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuReport {
  /** CPU the isolate spent, ms. */
  cpuMs: number;
  /** Wall time the profile covered, ms. */
  wallMs: number;
  /** Self time per function (name and source), ms, highest first. */
  top: { name: string; ms: number }[];
}

/** Profiles the isolate while `work` runs. */
export async function profileIsolate(inspector: Inspector, work: () => Promise<void>, samplingMicros = 100): Promise<CpuReport> {
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: samplingMicros });
  await inspector.call("Profiler.start");
  const started = performance.now();
  let profile: Profile;
  try {
    await work();
  } finally {
    ({ profile } = await inspector.call<{ profile: Profile }>("Profiler.stop", {}, 120_000));
  }
  const wallMs = performance.now() - started;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let cpuMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") continue;
    cpuMicros += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(src|node_modules)\//, "$1/");
    const name = `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
    self.set(name, (self.get(name) ?? 0) + delta);
  }
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([name, micros]) => ({ name, ms: micros / 1000 }));
  return { cpuMs: cpuMicros / 1000, wallMs, top };
}
