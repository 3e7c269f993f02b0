// npm run migrate: applies pending migrations to DATABASE_URL (any Postgres with pgvector).
import postgres from "postgres";
import { migrate } from "./lib/migrations.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set, e.g. DATABASE_URL=postgres://user:pass@host:5432/db npm run migrate");
  process.exit(2);
}
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const applied = await migrate(sql, (line) => console.log(line));
  console.log(applied.length ? `${applied.length} migration(s) applied` : "database is up to date");
} catch (err) {
  console.error(`migration failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await sql.end();
}
