// The JavaScript heap of the Worker's isolate under `wrangler dev`, read through the DevTools
// inspector wrangler serves (--inspector-port): Runtime.getHeapUsage is cheap and includes garbage
// not yet collected; a full collection is forced by taking a heap snapshot (V8 collects before it
// snapshots; workerd does not answer HeapProfiler.collectGarbage), whose chunks are discarded.
// This is the memory the platform limits (128 MB per isolate), unlike workerd's resident set.

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

/** The parts of Node's global WebSocket used here (the project's types are the Workers'). */
interface InspectorSocket {
  onopen: (() => void) | null;
  onerror: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function connectIsolateHeap(inspectorUrl: string): Promise<IsolateHeap> {
  const targets = (await (await fetch(`${inspectorUrl}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  if (!targets[0]) throw new Error(`no inspector target at ${inspectorUrl}`);
  // The inspector proxy accepts only local origins; Node's WebSocket sends none by default.
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl, {
    headers: { origin: "http://127.0.0.1" },
  } as unknown as string[]) as unknown as InspectorSocket;
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot attach to ${targets[0]!.webSocketDebuggerUrl}`));
  });
  let next = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter) return; // events, snapshot chunks included
    pending.delete(msg.id!);
    if (msg.error) waiter.reject(new Error(msg.error.message));
    else waiter.resolve(msg.result);
  };
  const call = <T>(method: string, params: object = {}, timeoutMs = 60_000) =>
    new Promise<T>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`inspector: ${method} timed out`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const usage = async (): Promise<HeapUsage> => {
    const r = await call<{ usedSize: number; totalSize: number }>("Runtime.getHeapUsage");
    return { usedMb: mb(r.usedSize), totalMb: mb(r.totalSize) };
  };
  return {
    usage,
    async afterFullGc() {
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      return usage();
    },
    close: () => ws.close(),
  };
}
