// npm run create-key -- --tenant ops --role admin: creates an API key directly in DATABASE_URL
// (for the first admin key of a deployment) and prints it once.
import postgres from "postgres";
import { parseArgs } from "node:util";
import { generateApiKey, hashApiKey, keyPrefix } from "../src/auth/api-key.ts";

const { values } = parseArgs({ options: { tenant: { type: "string" }, role: { type: "string", default: "user" } } });
const url = process.env.DATABASE_URL;
if (!url || !values.tenant || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(values.tenant) || !["user", "admin"].includes(values.role!)) {
  console.error("usage: DATABASE_URL=postgres://… npm run create-key -- --tenant <a-z0-9_-> [--role user|admin]");
  process.exit(2);
}
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const key = generateApiKey();
  await sql`INSERT INTO tenants (id) VALUES (${values.tenant}) ON CONFLICT (id) DO NOTHING`;
  const [row] = await sql`INSERT INTO api_keys (tenant_id, key_hash, key_prefix, role)
    VALUES (${values.tenant}, ${hashApiKey(key)}, ${keyPrefix(key)}, ${values.role!}) RETURNING id`;
  console.log(JSON.stringify({ id: row!.id, key, tenant: values.tenant, role: values.role }));
} finally {
  await sql.end();
}
