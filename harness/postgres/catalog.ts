import type pg from "pg";

/**
 * A database's shape as the catalog tells it: every table, view and materialized view outside
 * the system schemas, with its columns and their types. Enough to tell whether something (a
 * service that migrates itself, a migrate command) changed the schema, and how.
 */
export type SchemaShape = Map<string, Map<string, string>>;

type Query = (sql: string) => Promise<pg.QueryResult<pg.QueryResultRow>>;

/** Read a database's {@link SchemaShape}; `query` runs SQL in that database. */
export async function readSchemaShape(query: Query): Promise<SchemaShape> {
  const { rows } = await query(
    `SELECT n.nspname AS schema, c.relname AS rel, a.attname AS col,
            format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      ORDER BY 1, 2, a.attnum`,
  );
  const shape: SchemaShape = new Map();
  for (const row of rows) {
    // public is the schema users leave out; the others are named, as users write them.
    const table = row.schema === "public" ? String(row.rel) : `${row.schema}.${row.rel}`;
    const columns = shape.get(table) ?? new Map<string, string>();
    shape.set(table, columns);
    if (row.col !== null) columns.set(String(row.col), String(row.type));
  }
  return shape;
}

/** How `after` differs from `before`, one line per table or column, in catalog order. */
export function diffSchemaShapes(before: SchemaShape, after: SchemaShape): string[] {
  const lines: string[] = [];
  for (const [table, columns] of after) {
    const was = before.get(table);
    if (!was) {
      lines.push(`table ${table} exists`);
      continue;
    }
    for (const [column, type] of columns) {
      const old = was.get(column);
      if (old === undefined) lines.push(`${table}.${column} exists`);
      else if (old !== type) lines.push(`${table}.${column} is ${type}, was ${old}`);
    }
    for (const column of was.keys())
      if (!columns.has(column)) lines.push(`${table}.${column} is gone`);
  }
  for (const table of before.keys()) if (!after.has(table)) lines.push(`table ${table} is gone`);
  return lines;
}
