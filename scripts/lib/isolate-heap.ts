// The JavaScript heap of the Worker's isolate under `wrangler dev`, read through the DevTools
// inspector wrangler serves (--inspector-port): Runtime.getHeapUsage is cheap and includes garbage
// not yet collected; a full collection is forced by taking a heap snapshot (V8 collects before it
// snapshots; workerd does not answer HeapProfiler.collectGarbage), whose chunks are discarded.
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
      // A snapshot of a busy isolate on a loaded machine can take minutes.
      await inspector.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 300_000);
      return usage();
    },
    close: () => inspector.close(),
  };
}
