// The JavaScript heap of the Worker's isolate under `wrangler dev`, read through the DevTools
// inspector wrangler serves (--inspector-port): Runtime.getHeapUsage is cheap and includes garbage
// not yet collected; the heap after a full collection is read from a heap snapshot (V8 collects
// before it snapshots; workerd does not answer HeapProfiler.collectGarbage): the sum of its nodes.
// This is the memory the platform limits (128 MB per isolate), unlike workerd's resident set.
import { connectInspector } from "./inspector.ts";

export interface HeapUsage {
  usedMb: number;
  totalMb: number;
}

export interface IsolateHeap {
  usage(): Promise<HeapUsage>;
  /** Heap in use right after a full garbage collection. */
  afterFullGc(): Promise<HeapUsage>;
  close(): void;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function connectIsolateHeap(inspectorUrl: string): Promise<IsolateHeap> {
  const inspector = await connectInspector(inspectorUrl);
  const usage = async (): Promise<HeapUsage> => {
    const r = await inspector.call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
    return { usedMb: mb(r.usedSize), totalMb: mb(r.totalSize) };
  };
  return {
    usage,
    async afterFullGc() {
      // V8 collects before it snapshots, and the snapshot holds exactly what survived: its nodes'
      // self sizes add up to the live heap. (Runtime.getHeapUsage after the snapshot is no
      // measure: a busy isolate goes on allocating while the chunks travel, and a large import
      // showed 60 MB "after GC" where its snapshot held 30.) A snapshot of a busy isolate on a
      // loaded machine can take minutes.
      const chunks: string[] = [];
      const off = inspector.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push((p as { chunk: string }).chunk));
      try {
        await inspector.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 300_000);
      } finally {
        off();
      }
      const { totalMb } = await usage();
      return { usedMb: mb(liveBytes(chunks.join(""))), totalMb };
    },
    close: () => inspector.close(),
  };
}

/** The sum of every node's self size in a V8 heap snapshot (its JSON text). */
export function liveBytes(snapshotJson: string): number {
  const snapshot = JSON.parse(snapshotJson) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const selfSize = fields.indexOf("self_size");
  if (selfSize < 0) throw new Error("heap snapshot without self_size");
  let total = 0;
  for (let i = selfSize; i < snapshot.nodes.length; i += fields.length) total += snapshot.nodes[i]!;
  return total;
}
