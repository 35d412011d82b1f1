import pg from "pg";
import type { ScenarioDatabase } from "../../postgres/index.ts";
import type { Snapshot } from "./invariant.ts";

const { escapeIdentifier } = pg;

// Above this many rows a table's timestamp values are not kept: the strict digest still judges it.
const MAX_STAMPED_ROWS = 10_000;

/**
 * Row count and a digest of every row, per table in every schema the user owns; with `stamps`
 * (an `idempotent({ allowStamps })` to judge), also each table's rows without their timestamp
 * columns and those columns' values.
 */
export async function snapshotTables(
  db: ScenarioDatabase,
  { stamps: withStamps = false } = {},
): Promise<Snapshot> {
  const tables = await db.query<{
    schemaname: string;
    tablename: string;
    stamps: string[];
    naive: string[];
  }>(
    `SELECT t.schemaname, t.tablename,
        coalesce(array_agg(a.attname::text ORDER BY a.attnum)
          FILTER (WHERE a.atttypid IN ('timestamp'::regtype, 'timestamptz'::regtype)), '{}') AS stamps,
        coalesce(array_agg(a.attname::text ORDER BY a.attnum)
          FILTER (WHERE a.atttypid = 'timestamp'::regtype), '{}') AS naive
      FROM pg_tables t
      LEFT JOIN pg_attribute a ON a.attrelid = format('%I.%I', t.schemaname, t.tablename)::regclass
        AND a.attnum > 0 AND NOT a.attisdropped
      WHERE t.schemaname NOT IN ('pg_catalog', 'information_schema') AND t.schemaname NOT LIKE 'pg\\_%'
      GROUP BY t.schemaname, t.tablename
      ORDER BY t.schemaname, t.tablename`,
  );
  const out: Snapshot = {};
  for (const { schemaname, tablename, stamps, naive } of tables.rows) {
    const from = `${escapeIdentifier(schemaname)}.${escapeIdentifier(tablename)} t`;
    const digest = await db.query<{ rows: number; digest: string }>(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${from}`,
    );
    const entry: Snapshot[string] = { ...(digest.rows[0] as { rows: number; digest: string }) };
    if (withStamps && stamps.length && entry.rows <= MAX_STAMPED_ROWS) {
      // The row as JSON minus its timestamp columns, and those columns' values on their own.
      const minus = stamps.map((c) => ` - ${pg.escapeLiteral(c)}`).join("");
      // A timestamp without time zone holds now() in the session's zone: read it back so.
      const instant = (c: string) =>
        naive.includes(c)
          ? `t.${escapeIdentifier(c)} AT TIME ZONE current_setting('TimeZone')`
          : `t.${escapeIdentifier(c)}`;
      const values = stamps
        .map((c) => `(extract(epoch FROM ${instant(c)}) * 1000)::float8`)
        .join(", ");
      const split = await db.query<{ timeless: string; stamps: (number | null)[] | null }>(
        `SELECT md5(coalesce(string_agg((to_jsonb(t)${minus})::text, '|' ORDER BY (to_jsonb(t)${minus})::text), '')) AS timeless,
          (SELECT array_agg(v ORDER BY v) FROM ${from}, unnest(ARRAY[${values}]) AS v WHERE v IS NOT NULL) AS stamps
        FROM ${from}`,
      );
      const row = split.rows[0];
      if (row) {
        entry.timeless = row.timeless;
        entry.stamps = (row.stamps ?? []).map(Number);
      }
    }
    out[schemaname === "public" ? tablename : `${schemaname}.${tablename}`] = entry;
  }
  return out;
}
