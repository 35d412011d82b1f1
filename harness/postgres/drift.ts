import { escapeIdentifier } from "pg";
import { flywayVersion } from "./schema-layouts.ts";

/** Enough of a migration to find it by name or number. */
interface NamedMigration {
  number: number;
  name: string;
  version: string;
}

/**
 * How a scenario's database differs from the fully migrated schema, stated as data.
 * Applied in order, after the clone from the template.
 */
export type DriftStep =
  | { dropColumn: string }
  | { dropTable: string }
  | { renameColumn: string; to: string }
  /**
   * Clone from a template holding only the first migrations: a number is the `NNN` of a plain
   * `NNN_name.sql` folder, or "the first N in the tool's order" for every other layout; a string
   * names the last migration to keep, by file/folder name or version (`"V1.1"`, `"0001_add_users"`).
   */
  | { stopAtMigration: number | string }
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

/** A `stopAtMigration` value named no migration; the message lists the known ones. */
export class UnknownMigrationError extends Error {}

function sameVersion(wanted: string, migration: NamedMigration): boolean {
  const flyway = /^[VB]?\d+(?:[._]\d+)*$/;
  if (!/^[VB]/.test(migration.version) || !flyway.test(wanted)) return false;
  const a = flywayVersion(wanted);
  const b = flywayVersion(migration.version);
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/** How many migrations, in order, one `stopAtMigration` value keeps. */
export function migrationCount(
  value: number | string,
  migrations: readonly NamedMigration[],
): number {
  if (typeof value === "number") {
    // Plain folders (and old scenarios) count by NNN; a migration's number is its position otherwise.
    return migrations.filter((m) => m.number <= value).length;
  }
  const wanted = value.trim();
  const index = migrations.findIndex(
    (m) =>
      m.name === wanted ||
      m.name.replace(/\.(up\.)?sql$/, "") === wanted ||
      m.version === wanted ||
      sameVersion(wanted, m) ||
      (/^\d+$/.test(wanted) && /^\d+$/.test(m.version) && BigInt(wanted) === BigInt(m.version)),
  );
  if (index === -1) {
    const known = migrations.map((m) => m.name);
    throw new UnknownMigrationError(
      `stopAtMigration: no migration named ${JSON.stringify(value)}; known: ${known.length ? known.join(", ") : "none (the schema comes from a migrate command or a dump)"}`,
    );
  }
  return index + 1;
}

/** How many migrations the clone's template holds: the lowest `stopAtMigration`, else all. */
export function migrationsUpTo(
  drift: readonly DriftStep[],
  migrations: readonly NamedMigration[],
): number {
  let upTo = migrations.length;
  for (const step of drift)
    if ("stopAtMigration" in step)
      upTo = Math.min(upTo, migrationCount(step.stopAtMigration, migrations));
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
