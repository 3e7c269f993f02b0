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
  /** Calls `handler` with the params of every event named `method` until the returned function is called. */
  on(method: string, handler: (params: unknown) => void): () => void;
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
  const listeners = new Map<string, Set<(params: unknown) => void>>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as {
      id?: number;
      method?: string;
      params?: unknown;
      result?: unknown;
      error?: { message: string };
    };
    if (msg.id === undefined) {
      if (msg.method) for (const handler of listeners.get(msg.method) ?? []) handler(msg.params);
      return;
    }
    const waiter = pending.get(msg.id);
    if (!waiter) return;
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
    on(method, handler) {
      let set = listeners.get(method);
      if (!set) listeners.set(method, (set = new Set()));
      set.add(handler);
      return () => set.delete(handler);
    },
    close: () => ws.close(),
  };
}
