// Starts PGlite with pgvector behind the Postgres wire protocol (pglite-socket) on 127.0.0.1.
// Used by `npm start`, the test global setup and the benchmarks.

import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { processRunning } from "./processes.ts";

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /** The database itself, for work the wire protocol cannot do here (a restore's COPY FROM). */
  db: PGlite;
  /** Open client connections, and messages waiting for the one session. */
  stats(): { connections: number; queued: number };
  stop(): Promise<void>;
}

/** Another live process has the data directory open. */
export class DatabaseInUseError extends Error {}
/** PGlite cannot open the data directory. */
export class DatabaseOpenError extends Error {}

/**
 * `dataDir` undefined keeps the database in memory; port 0 picks a free port. A data directory is
 * opened by one process at a time (a lock file beside it): PGlite's own lock cannot tell two
 * processes apart (its backend always has pid 42), and two of them on one directory lose commits.
 */
export async function startEmbeddedPostgres(
  options: { dataDir?: string; port?: number; maxConnections?: number } = {},
): Promise<EmbeddedPostgres> {
  const release = options.dataDir ? lockDataDir(options.dataDir) : () => {};
  let db: PGlite;
  try {
    db = options.dataDir ? await openDataDir(options.dataDir) : await PGlite.create("memory://", { extensions: { vector } });
  } catch (err) {
    release();
    throw err;
  }
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    // Every Worker request opens its own connection (Hyperdrive pools them in production);
    // the server multiplexes them onto PGlite's single session, keeping transactions whole.
    maxConnections: options.maxConnections ?? 64,
  });
  keepSequencesAtomic(server, db);
  let port = options.port ?? 0;
  server.addEventListener("listening", (e) => {
    const detail = (e as CustomEvent<{ port: number }>).detail;
    port = detail.port;
  });
  await server.start();
  let stopped = false;
  return {
    port,
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
      release();
    },
    db,
    stats: () => {
      const { activeConnections, queuedQueries } = server.getStats();
      return { connections: activeConnections, queued: queuedQueries };
    },
  };
}

/** The lock file of a data directory: beside it, holding the owner's pid. */
export const lockFileOf = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}.lock`;

/** The pid in a data directory's lock file when that process is alive, else undefined. */
export function dataDirOwner(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFileOf(dataDir), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  // Gone (a crash left the file), or killed and not yet collected by its parent.
  return processRunning(pid) ? pid : undefined;
}

/** Data directories this process has open (the lock file cannot tell this process from itself). */
const openHere = new Set<string>();

function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = lockFileOf(dataDir);
  if (openHere.has(file)) throw new DatabaseInUseError(`the database in ${dataDir} is already open in this process`);
  const owner = dataDirOwner(dataDir);
  if (owner !== undefined) {
    throw new DatabaseInUseError(
      `the database in ${dataDir} is in use by process ${owner} (another npm start?). Stop that process first; if none is running, delete ${lockFileOf(dataDir)}.`,
    );
  }
  writeFileSync(file, `${process.pid}\n`);
  openHere.add(file);
  const release = () => {
    openHere.delete(file);
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", release);
  return release;
}

/**
 * Opens PGlite on a data directory. A postmaster.pid left empty by a crash is removed first (PGlite
 * refuses to start on it; with our own lock held nobody else uses the directory). If it cannot be
 * opened, the error says so plainly and what to do; the directory is left as it was.
 */
async function openDataDir(dataDir: string): Promise<PGlite> {
  const pidFile = `${dataDir}/postmaster.pid`;
  if (existsSync(pidFile) && statSync(pidFile).size === 0) unlinkSync(pidFile);
  try {
    return await PGlite.create(dataDir, { extensions: { vector } });
  } catch (err) {
    throw new DatabaseOpenError(
      `PGlite could not open the database in ${dataDir} (${err instanceof Error ? err.message : String(err)}). ` +
        'The directory is left as it was. To get your data back, restore the latest backup (npm run restore -- --list shows them; README, "Keep your archive safe").',
    );
  }
}

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(err: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}

// Message types after which a client waits for the server: Sync, simple Query, Flush, Terminate.
const SYNC_POINTS = new Set(["S", "Q", "H", "X"].map((c) => c.charCodeAt(0)));
const PARSE = "P".charCodeAt(0);
const CLOSE = "C".charCodeAt(0);
/** Handler ids of the server's own messages (negative: pglite-socket counts its handlers from 1). */
let nextInternalHandler = -1;

/**
 * pglite-socket multiplexes connections onto PGlite's one session message by message, keeping a
 * transaction's messages together but not an extended-protocol sequence (Parse/Bind/Execute …
 * Sync): two concurrent queries interleave and one fails with 'portal "" does not exist'. Real
 * Postgres gives every connection its own session, so the Worker runs queries concurrently; this
 * makes the embedded server behave the same by also keeping each sequence up to its Sync
 * together.
 *
 * A real session also ends with its connection, and with it the statements the client prepared.
 * In the one shared session they would live for ever: postgres.js prepares every distinct query
 * under a name of its own per connection, and the Worker opens a connection per request (as
 * Hyperdrive wants), so each request would leave its statements behind (≈ 2 per retrieve, tens
 * of thousands in a day, until PGlite runs out of memory). So the server notes the names each
 * connection prepares (Parse messages with a name) and forgets (Close), and when the connection
 * ends, closes the rest with a Close … Sync of its own, queued like any client's message, so it
 * never lands inside another client's transaction or sequence.
 *
 * It replaces the queue's scheduling of @electric-sql/pglite-socket 0.2.17 (pinned); the
 * concurrent-retrieval tests and test/worker/database-growth.test.ts fail if a new version breaks it.
 */
function keepSequencesAtomic(server: PGLiteSocketServer, db: PGlite): void {
  const queue = (server as unknown as { queryQueue: QueryQueue }).queryQueue;
  if (!queue || !Array.isArray(queue.queue) || typeof queue.processQueue !== "function") {
    throw new Error("unexpected @electric-sql/pglite-socket internals: update scripts/lib/embedded-postgres.ts");
  }
  let openSequence: number | null = null;
  /** Named statements each connection has prepared and not closed. */
  const prepared = new Map<number, Set<string>>();
  /** The connection whose message PGlite is executing, and whether it closed meanwhile. */
  let running: number | null = null;
  let runningClosed = false;
  /** Queues a Close … Sync for the statements a closed connection left prepared. */
  const forgetStatements = (handlerId: number) => {
    const names = prepared.get(handlerId);
    prepared.delete(handlerId);
    if (names && names.size > 0) {
      const internal = nextInternalHandler--;
      for (const message of closeStatements(names))
        queue.queue.push({ handlerId: internal, message, resolve: () => {}, reject: () => {}, onData: () => {} });
    }
  };
  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handlerId) => {
    clear(handlerId);
    if (handlerId === running) runningClosed = true;
    forgetStatements(handlerId);
    if (openSequence === handlerId) openSequence = null;
    void queue.processQueue();
  };
  /**
   * The connection closed while PGlite executed its message: that message may have opened a
   * transaction or a sequence nobody will finish (pglite-socket's own clean-up looked before the
   * message ran). End them here, or every other client would wait for the gone one for ever.
   */
  const afterClosedWhileRunning = async (handlerId: number) => {
    openSequence = null;
    forgetStatements(handlerId);
    if (db.isInTransaction()) await db.exec("ROLLBACK");
    queue.lastHandlerId = null;
  };
  queue.processQueue = async function processQueue(this: QueryQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const owner = db.isInTransaction() && this.lastHandlerId !== null ? this.lastHandlerId : openSequence;
        const index = owner === null ? 0 : this.queue.findIndex((q) => q.handlerId === owner);
        // The owner of the open sequence or transaction has not sent its next message yet: wait for it.
        if (index === -1) break;
        const [next] = this.queue.splice(index, 1) as [QueuedMessage];
        let bytes = 0;
        running = next.handlerId;
        runningClosed = false;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(next.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                next.onData(data);
              },
            }),
          );
        } catch (err) {
          openSequence = null;
          running = null;
          if (runningClosed) await afterClosedWhileRunning(next.handlerId);
          next.reject(err);
          continue;
        }
        running = null;
        this.lastHandlerId = next.handlerId;
        // A startup message (no type byte: it begins with its length's high byte, 0) also ends a sequence.
        const type = next.message[0]!;
        openSequence = type === 0 || SYNC_POINTS.has(type) ? null : next.handlerId;
        if (next.handlerId > 0) trackStatements(prepared, next.handlerId, next.message);
        if (runningClosed) await afterClosedWhileRunning(next.handlerId);
        next.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
}

/** The name of a Parse or Close-statement message (undefined for unnamed ones and other messages). */
function statementName(message: Uint8Array): string | undefined {
  const type = message[0];
  const start = type === PARSE ? 5 : type === CLOSE && message[5] === 0x53 /* 'S' */ ? 6 : -1;
  if (start < 0 || message[start] === 0) return undefined;
  const end = message.indexOf(0, start);
  return end < 0 ? undefined : decoder.decode(message.subarray(start, end));
}
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function trackStatements(prepared: Map<number, Set<string>>, handlerId: number, message: Uint8Array): void {
  const name = statementName(message);
  if (name === undefined) return;
  let names = prepared.get(handlerId);
  if (message[0] === PARSE) {
    if (!names) prepared.set(handlerId, (names = new Set()));
    names.add(name);
  } else names?.delete(name);
}

/** Close (statement) for each name, then Sync: the messages a client sends to drop its statements. */
function closeStatements(names: Iterable<string>): Uint8Array[] {
  const messages: Uint8Array[] = [];
  for (const name of names) {
    const bytes = encoder.encode(name);
    const msg = new Uint8Array(1 + 4 + 1 + bytes.length + 1);
    msg[0] = CLOSE;
    new DataView(msg.buffer).setInt32(1, msg.length - 1);
    msg[5] = 0x53; // 'S': a statement, not a portal
    msg.set(bytes, 6);
    messages.push(msg);
  }
  messages.push(Uint8Array.of(0x53, 0, 0, 0, 4)); // Sync
  return messages;
}
