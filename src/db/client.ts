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
