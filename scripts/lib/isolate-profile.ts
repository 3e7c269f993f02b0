// CPU time of the Worker isolate, from V8's sampling profiler through the inspector: every sample
// carries the time since the one before; the samples that are not "(idle)" add up to the CPU the
// isolate spent (JavaScript, garbage collection and the runtime's native work on its thread).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { originalPositionFor, TraceMap } from "@jridgewell/trace-mapping";
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
  /** Self time per source file or package (through the bundle's source map), ms, highest first. */
  byFile: { file: string; ms: number }[];
}

/** The newest bundle wrangler dev built under `root` (.wrangler/tmp/dev-…/index.js.map), as a source map. */
export function devBundleMap(root: string): TraceMap | undefined {
  const tmp = join(root, ".wrangler", "tmp");
  if (!existsSync(tmp)) return undefined;
  const maps = readdirSync(tmp)
    .map((d) => join(tmp, d, "index.js.map"))
    .filter((f) => existsSync(f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return maps[0] ? new TraceMap(readFileSync(maps[0], "utf8")) : undefined;
}

/** "src/x/y.ts" for the project's files, the package name for a dependency's. */
function sourceOf(source: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (pkg) return pkg[1]!;
  const own = /(?:^|\/)(src\/.*)$/.exec(source);
  return own ? own[1]! : source.replace(/^.*\//, "");
}

/** Profiles the isolate while `work` runs. */
export async function profileIsolate(
  inspector: Inspector,
  work: () => Promise<void>,
  options: { samplingMicros?: number; map?: TraceMap | undefined } = {},
): Promise<CpuReport> {
  const samplingMicros = options.samplingMicros ?? 100;
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
  const files = new Map<string, number>();
  const fileOf = new Map<number, string>();
  let cpuMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") continue;
    cpuMicros += delta;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame as ProfileNode["callFrame"] & { columnNumber: number };
    let where = url ? `${url.replace(/^.*\//, "")}:${lineNumber + 1}` : "";
    let file = fileOf.get(node.id);
    if (file === undefined) {
      file = url ? "(other scripts)" : functionName;
      if (options.map && url && lineNumber >= 0) {
        const pos = originalPositionFor(options.map, { line: lineNumber + 1, column: Math.max(0, columnNumber) });
        if (pos.source) file = sourceOf(pos.source);
      }
      fileOf.set(node.id, file);
    }
    if (options.map && url && file !== "(other scripts)") where = file;
    const name = `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    self.set(name, (self.get(name) ?? 0) + delta);
    files.set(file, (files.get(file) ?? 0) + delta);
  }
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([name, micros]) => ({ name, ms: micros / 1000 }));
  const byFile = [...files]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([file, micros]) => ({ file, ms: micros / 1000 }));
  return { cpuMs: cpuMicros / 1000, wallMs, top, byFile };
}
