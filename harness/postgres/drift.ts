import { escapeIdentifier } from "pg";

/**
 * How a scenario's database differs from the fully migrated schema, stated as data.
 * Applied in order, after the clone from the template.
 */
export type DriftStep =
  | { dropColumn: string }
  | { dropTable: string }
  | { renameColumn: string; to: string }
  | { stopAtMigration: number }
  | { sql: string };

/** Split `table.column` (or `schema.table.column`) into a quoted table and a quoted column. */
function qualifiedColumn(ref: string): { table: string; column: string } {
  const parts = ref.split(".");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new Error(`expected "table.column", got ${JSON.stringify(ref)}`);
  }
  const column = parts.pop() as string;
  return { table: parts.map(escapeIdentifier).join("."), column: escapeIdentifier(column) };
}

function qualifiedTable(ref: string): string {
  const parts = ref.split(".");
  if (parts.length > 2 || parts.some((p) => p === ""))
    throw new Error(`expected "table", got ${JSON.stringify(ref)}`);
  return parts.map(escapeIdentifier).join(".");
}

/** The migration the clone must come from: the lowest `stopAtMigration`, else all of them. */
export function migrationsUpTo(drift: readonly DriftStep[], latest: number): number {
  let upTo = latest;
  for (const step of drift)
    if ("stopAtMigration" in step) upTo = Math.min(upTo, step.stopAtMigration);
  return upTo;
}

/** The SQL for one drift step; `stopAtMigration` needs none (it picks the template). */
export function driftSql(step: DriftStep): string | undefined {
  if ("dropColumn" in step) {
    const { table, column } = qualifiedColumn(step.dropColumn);
    return `ALTER TABLE ${table} DROP COLUMN ${column} CASCADE`;
  }
  if ("dropTable" in step) return `DROP TABLE ${qualifiedTable(step.dropTable)} CASCADE`;
  if ("renameColumn" in step) {
    const { table, column } = qualifiedColumn(step.renameColumn);
    return `ALTER TABLE ${table} RENAME COLUMN ${column} TO ${escapeIdentifier(step.to)}`;
  }
  if ("sql" in step) return step.sql;
  return undefined;
}

/** A short human description of a drift step, for reports. */
export function describeDrift(step: DriftStep): string {
  if ("dropColumn" in step) return `no ${step.dropColumn}`;
  if ("dropTable" in step) return `no table ${step.dropTable}`;
  if ("renameColumn" in step) return `${step.renameColumn} renamed to ${step.to}`;
  if ("stopAtMigration" in step) return `migrations stop at ${step.stopAtMigration}`;
  return "custom SQL";
}
