// A DevTools-protocol client for the Worker isolate under `wrangler dev` (--inspector-port):
// the heap reads of scripts/lib/isolate-heap.ts and the CPU profiles of npm run bench:cpu use it.

/** The parts of Node's global WebSocket used here (the project's types are the Workers'). */
interface InspectorSocket {
  onopen: (() => void) | null;
  onerror: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface Inspector {
  /** Sends one protocol command and resolves with its result. */
  call<T>(method: string, params?: object, timeoutMs?: number): Promise<T>;
  close(): void;
}

export async function connectInspector(inspectorUrl: string): Promise<Inspector> {
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
  return {
    call: <T>(method: string, params: object = {}, timeoutMs = 60_000) =>
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
      }),
    close: () => ws.close(),
  };
}
