// A TCP proxy in front of the embedded Postgres that a test can trip: POST /arm on its control port
// with ?afterBytes=N (once clients have sent N more bytes: the middle of an ingest, say) or ?on=text
// (when a client sends a statement containing the text, which is then not forwarded). By default
// tripping destroys every proxied connection, as when a network path or a database host dies
// mid-transaction while the database keeps running; `onTrip` replaces that (stoppable-database.ts
// kills the database process). /disarm lets traffic through again; /status says what tripped.
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, createServer, type Socket } from "node:net";

interface Trigger {
  afterBytes?: number;
  /** Lower-case text that trips the proxy when a client sends it. */
  on?: string;
  /** Lower-case texts to report: which of them the tripping connection had sent before the trip, in the order of their last sighting. */
  markers: string[];
}

export interface TripReport {
  armed: boolean;
  tripped: boolean;
  /** Markers the tripping connection had sent before it tripped, ordered by where each was last sent. */
  sentBeforeTrip: string[];
  connections: number;
}

export interface ProxyOptions {
  /** What tripping does; the default ends every proxied connection. */
  onTrip?: () => void | Promise<void>;
  /** More control routes (POST), answered with their result as JSON. */
  routes?: Record<string, () => Promise<unknown>>;
}

export interface CutProxy {
  databaseUrl: string;
  controlUrl: string;
  /** Stops listening, so that new connections are refused as by a host that is down. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  accept(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCutProxy(databaseUrl: string, options: ProxyOptions = {}): Promise<CutProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let trigger: Trigger | undefined;
  let report = { tripped: false, sentBeforeTrip: [] as string[] };
  const cut = () => {
    for (const s of sockets) s.end();
    sockets.clear();
  };
  const trip = options.onTrip ?? cut;

  const relay = (client: Socket) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    // A statement's text can straddle two reads: match over the end of the previous one too.
    let tail = "";
    let consumed = 0;
    /** Where in this connection's stream each marker was last seen. */
    const lastSeen = new Map<string, number>();
    client.on("data", (chunk: Buffer) => {
      if (trigger) {
        const fresh = chunk.toString("latin1").toLowerCase();
        const text = tail + fresh;
        const start = consumed - tail.length;
        consumed += fresh.length;
        tail = text.slice(-256);
        const byBytes = trigger.afterBytes !== undefined && (trigger.afterBytes -= chunk.length) <= 0;
        const at = trigger.on === undefined ? -1 : text.indexOf(trigger.on);
        // Statements pipelined with the tripping one arrive in the same read: only what precedes it counts.
        const end = at >= 0 ? at : text.length;
        for (const m of trigger.markers) {
          const i = end >= m.length ? text.lastIndexOf(m, end - m.length) : -1;
          if (i >= 0) lastSeen.set(m, Math.max(lastSeen.get(m) ?? -1, start + i));
        }
        if (byBytes || at >= 0) {
          const markers = trigger.markers;
          const order = [...lastSeen]
            .filter(([m]) => markers.includes(m))
            .sort((a, b) => a[1] - b[1])
            .map(([m]) => m);
          report = { tripped: true, sentBeforeTrip: order };
          trigger = undefined;
          return void trip();
        }
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    // The proxy stands where Hyperdrive stands in production: when a database it was talking to
    // goes away, the Worker's connection is ended (FIN after what was already sent), not reset; one
    // it cannot reach at all refuses the connection.
    let reached = false;
    upstream.once("connect", () => (reached = true));
    for (const s of [client, upstream]) {
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        if (s === client || !reached) (s === client ? upstream : client).destroy();
        else client.end();
      });
    }
  };
  let proxy = createServer(relay);

  const arm = (url: URL) => {
    const afterBytes = url.searchParams.get("afterBytes");
    trigger = {
      afterBytes: afterBytes === null ? undefined : Number(afterBytes),
      on: url.searchParams.get("on")?.toLowerCase() ?? undefined,
      markers: url.searchParams.getAll("marker").map((m) => m.toLowerCase()),
    };
    report = { tripped: false, sentBeforeTrip: [] };
  };
  const status = (): TripReport => ({ armed: trigger !== undefined, ...report, connections: sockets.size });
  const control: Server = createHttpServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://control");
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/arm") arm(url);
    else if (url.pathname === "/disarm") trigger = undefined;
    else if (options.routes?.[url.pathname]) {
      return void options.routes[url.pathname]!().then(
        (result) => answer(200, result),
        (err: unknown) => answer(500, { error: err instanceof Error ? err.message : String(err) }),
      );
    } else if (url.pathname !== "/status") return answer(404, { error: `no route ${url.pathname}` });
    answer(200, status());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as AddressInfo).port;
  const proxied = new URL(databaseUrl);
  proxied.port = String(port);
  // close() stops listening at once; its callback would wait for the open connections.
  const refuse = async () => void (proxy.listening && proxy.close());
  const accept = async () => {
    if (proxy.listening) return;
    proxy = createServer(relay);
    await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
  };
  return {
    databaseUrl: proxied.toString(),
    controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    refuse,
    accept,
    stop: async () => {
      cut();
      await refuse();
      await new Promise((r) => control.close(r));
    },
  };
}
