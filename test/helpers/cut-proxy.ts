// A TCP proxy in front of the embedded Postgres that a test can cut: POST /arm?afterBytes=N on its
// control port destroys every proxied connection once clients have sent N more bytes (the middle
// of an ingest, say); /disarm lets traffic through again. The database itself keeps running, as
// when a network path or a database host dies mid-transaction.
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export async function startCutProxy(databaseUrl: string): Promise<{ databaseUrl: string; controlUrl: string; stop(): Promise<void> }> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let budget: number | undefined;
  // The database side closes as a host that died would look to the client: its connection ends.
  const cut = () => {
    for (const s of sockets) s.end();
    sockets.clear();
  };
  const proxy = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk: Buffer) => {
      if (budget !== undefined) {
        budget -= chunk.length;
        if (budget <= 0) {
          budget = undefined;
          return cut();
        }
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
  });
  const control: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://control");
    if (url.pathname === "/arm") budget = Number(url.searchParams.get("afterBytes") ?? 0);
    else if (url.pathname === "/disarm") budget = undefined;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ armed: budget !== undefined, connections: sockets.size }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const proxied = new URL(databaseUrl);
  proxied.port = String((proxy.address() as AddressInfo).port);
  return {
    databaseUrl: proxied.toString(),
    controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    stop: async () => {
      cut();
      await new Promise((r) => proxy.close(r));
      await new Promise((r) => control.close(r));
    },
  };
}
