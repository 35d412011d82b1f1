import pg from "pg";
import type { ScenarioDatabase } from "../../postgres/index.ts";
import type { Snapshot } from "./invariant.ts";

const { escapeIdentifier } = pg;

/** Row count and a digest of every row, per table in every schema the user owns. */
export async function snapshotTables(db: ScenarioDatabase): Promise<Snapshot> {
  const tables = await db.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\\_%'
      ORDER BY schemaname, tablename`,
  );
  const out: Snapshot = {};
  for (const { schemaname, tablename } of tables.rows) {
    const digest = await db.query<{ rows: number; digest: string }>(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${escapeIdentifier(schemaname)}.${escapeIdentifier(tablename)} t`,
    );
    out[schemaname === "public" ? tablename : `${schemaname}.${tablename}`] = digest.rows[0] as {
      rows: number;
      digest: string;
    };
  }
  return out;
}
