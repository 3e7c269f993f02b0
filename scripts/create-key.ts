// npm run create-key -- --tenant ops --role operator: creates an API key directly in DATABASE_URL
// (the first key of a deployment, and operator keys, which are never created over HTTP) and
// prints it once.
import postgres from "postgres";
import { generateApiKey, hashApiKey, keyPrefix } from "../src/auth/api-key.ts";
import { parseCli } from "./lib/cli.ts";

const USAGE = `usage: DATABASE_URL=postgres://… npm run create-key -- --tenant <a-z0-9_-> [--role user|admin|operator]
  user: the tenant's data; admin: also the tenant's keys and caches; operator: every tenant and /metrics.
  Prints the key once, as JSON.`;

const { values } = parseCli({ tenant: { type: "string" }, role: { type: "string", default: "user" } }, USAGE);
const url = process.env.DATABASE_URL;
if (!url || !values.tenant || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(values.tenant) || !["user", "admin", "operator"].includes(values.role!)) {
  console.error(USAGE);
  process.exit(2);
}
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const key = generateApiKey();
  await sql`INSERT INTO tenants (id) VALUES (${values.tenant}) ON CONFLICT (id) DO NOTHING`;
  const [row] = await sql`INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role)
    VALUES (${values.tenant}, ${hashApiKey(key)}, ${keyPrefix(key)}, ${values.role!}) RETURNING id`;
  console.log(JSON.stringify({ id: row!.id, key, tenant: values.tenant, role: values.role }));
} catch (err) {
  console.error(`creating the key failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await sql.end();
}
