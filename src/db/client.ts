import postgres from "postgres";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;
/** Either the request's client or a transaction on it: queries accept both. */
export type Db = Sql | Tx;

/**
 * One Postgres client per request, as Hyperdrive wants: Hyperdrive pools the real
 * connections, so the client is cheap and must be closed (in waitUntil) when the request ends.
 */
export function createSql(hyperdrive: Hyperdrive): Sql {
  return postgres(hyperdrive.connectionString, {
    max: 4,
    // Hyperdrive and pglite both speak the extended protocol; skipping the type lookup saves a round trip.
    fetch_types: false,
    prepare: true,
    connect_timeout: 10,
    // No idle timeout: the client lives for one request and workerd closes its sockets when the
    // request ends. An idle close in the middle of a long stream (an answer can take a while)
    // would turn the polyfill's pending read into an unhandled rejection.
    onnotice: () => {},
  });
}

/**
 * Runs `statement` in a transaction with `settings` in effect (set_config(…, true), i.e. SET LOCAL:
 * the only form that holds under Hyperdrive, whose pool hands out connections per transaction,
 * and one that ends with the transaction, so nothing leaks to the next user of the connection).
 * The settings and the statement are pipelined after BEGIN: BEGIN, both, COMMIT are three round trips.
 */
export async function withLocalSettings<T>(sql: Sql, settings: Record<string, string | number>, statement: (tx: Tx) => postgres.PendingQuery<T extends readonly postgres.MaybeRow[] ? T : never>): Promise<T> {
  const values = Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, String(value)]));
  const [, rows] = (await sql.begin((tx) => [
    tx`SELECT set_config(s.key, s.value, true) FROM jsonb_each_text(${tx.json(values)}::jsonb) AS s`,
    statement(tx),
  ])) as unknown as [unknown, T];
  return rows;
}
