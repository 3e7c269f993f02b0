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

/** A setting as an SQL literal: integers and lower-case words only, so nothing needs quoting. */
function settingLiteral(name: string, value: string | number): string {
  if (!/^[a-z_]+(\.[a-z_]+)?$/.test(name)) throw new Error(`unexpected setting name ${name}`);
  if (typeof value === "number" ? !Number.isSafeInteger(value) : !/^[a-z_]+$/.test(value)) throw new Error(`unexpected value for ${name}`);
  return `set_config('${name}', '${value}', true)`;
}

/**
 * The statement that puts `settings` in effect until the transaction ends (SET LOCAL). Run it
 * with tx.unsafe: it has no parameters, so it costs no Describe round trip of its own.
 */
export const setLocal = (settings: Record<string, string | number>): string =>
  `SELECT ${Object.entries(settings)
    .map(([name, value]) => settingLiteral(name, value))
    .join(", ")}`;

/**
 * Runs `statement` in a transaction with `settings` in effect (set_config(…, true), i.e. SET LOCAL:
 * the only form that holds under Hyperdrive, whose pool hands out connections per transaction,
 * and one that ends with the transaction, so nothing leaks to the next user of the connection).
 *
 * The settings are written as literals: a statement without parameters needs no Describe round
 * trip first, so postgres.js sends it in the same write as the statement. The cost over the bare
 * statement is BEGIN and COMMIT, one round trip each. (Sending those in the same write too would
 * need sql.reserve(), which never resolves on a new client with fetch_types off: porsager/postgres#751.)
 */
export async function withLocalSettings<T extends readonly postgres.MaybeRow[]>(
  sql: Sql,
  settings: Record<string, string | number>,
  statement: (tx: Tx) => postgres.PendingQuery<T>,
): Promise<T> {
  const [, rows] = (await sql.begin((tx) => [tx.unsafe(setLocal(settings)), statement(tx)])) as unknown as [unknown, T];
  return rows;
}
