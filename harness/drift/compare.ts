import pg from "pg";
import type { DriftStep } from "../postgres/index.ts";
import type { Catalog, ColumnShape, ConstraintShape, IndexShape, TableShape } from "./catalog.ts";

const { escapeIdentifier } = pg;

/** What kind of object differs. */
export type DifferenceKind =
  | "table"
  | "column"
  | "type"
  | "nullability"
  | "default"
  | "constraint"
  | "index"
  | "enum";

/** One way production's schema differs from the one the migrations build. */
export interface Difference {
  kind: DifferenceKind;
  /** `missing`: the migrations have it, production does not; `extra`: only production has it. */
  change: "missing" | "extra" | "changed";
  /** The object, schema-qualified (public bare): `users.credits_balance`, `index users_email_idx on users`. */
  object: string;
  /** What production has, when it has something. */
  production?: string;
  /** What the migrations build, when they build something. */
  migrations?: string;
  /** The console line. */
  line: string;
  /**
   * The drift steps that turn the migrations' schema into production's here, empty when the
   * difference cannot be stated as drift (then `unreproduced` says why).
   */
  drift: DriftStep[];
  unreproduced?: string;
  /** What the difference may really be (a missing column beside an extra one: a rename). */
  hint?: string;
}

// How much a webhook path trips on each, most first: a missing table or column fails the
// statement (42P01, 42703), a type or a NOT NULL fails the insert, a missing constraint lets a
// duplicate in or fails an ON CONFLICT, a missing index only slows it; what production has
// beyond the migrations rarely breaks code written against the migrations.
const RANK: Record<string, number> = {
  "missing table": 0,
  "missing column": 1,
  "changed type": 2,
  // A value the code writes that production's enum lacks fails the insert (22P02).
  "missing enum": 2,
  "changed nullability": 3,
  "changed default": 3,
  "missing constraint": 4,
  "changed constraint": 4,
  "missing index": 5,
  "changed index": 5,
  "extra table": 6,
  "extra column": 7,
  "extra constraint": 8,
  "extra index": 9,
  "extra enum": 9,
};

// The order drift steps must run in on the migrations' clone: what depends on a column goes
// before the column, tables a constraint of production's references exist before it.
const PHASE: Record<string, number> = {
  // Production's own enum values first: a default or a check of production's may name them.
  "extra enum": 0,
  "missing enum": 0,
  "missing constraint": 0,
  "changed constraint": 0,
  "missing index": 1,
  "changed index": 1,
  "missing column": 2,
  "missing table": 3,
  "changed type": 4,
  "changed nullability": 5,
  "changed default": 5,
  "extra table": 6,
  "extra column": 7,
  "extra constraint": 8,
  "extra index": 9,
};

/** Tables a migration tool keeps its own bookkeeping in: production has them, a template does not. */
const BOOKKEEPING = new Set([
  "_prisma_migrations",
  "drizzle.__drizzle_migrations",
  "flyway_schema_history",
  "schema_migrations",
  "ar_internal_metadata",
  "goose_db_version",
  "knex_migrations",
  "knex_migrations_lock",
  "alembic_version",
  "__EFMigrationsHistory",
]);

/** What `dropColumn`/`dropTable` accept; other names go through a `sql` step. */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function sqlTable(table: TableShape): string {
  return table.schema === "public"
    ? escapeIdentifier(table.name)
    : `${escapeIdentifier(table.schema)}.${escapeIdentifier(table.name)}`;
}

function sqlSchemaObject(table: TableShape, name: string): string {
  return table.schema === "public"
    ? escapeIdentifier(name)
    : `${escapeIdentifier(table.schema)}.${escapeIdentifier(name)}`;
}

/** An index's definition without its own name, so two names of one index compare equal. */
function indexBody(index: IndexShape): string {
  return index.definition.replace(
    /^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")+"|\S+) ON /,
    "$1ON ",
  );
}

/** An index as a reader tells two apart: `btree (user_id)`, `UNIQUE btree (lower(email))`. */
function indexUsing(index: IndexShape): string {
  const using = index.definition.replace(/^.* USING /, "");
  return /^CREATE UNIQUE /.test(index.definition) ? `UNIQUE ${using}` : using;
}

function columnDefinition(column: ColumnShape): string {
  const plainDefault =
    column.default !== undefined &&
    !/^generated /.test(column.default) &&
    !/nextval\(/.test(column.default);
  return `${escapeIdentifier(column.name)} ${column.type}${column.notNull ? " NOT NULL" : ""}${plainDefault ? ` DEFAULT ${column.default}` : ""}`;
}

/** Differences that change a column's definition; missing and extra columns are found by the caller. */
function columnChanges(
  table: TableShape,
  was: ColumnShape,
  now: ColumnShape,
): Omit<Difference, "line">[] {
  const object = `${table.key}.${now.name}`;
  const target = `ALTER TABLE ${sqlTable(table)} ALTER COLUMN ${escapeIdentifier(now.name)}`;
  const out: Omit<Difference, "line">[] = [];
  if (was.type !== now.type)
    out.push({
      kind: "type",
      change: "changed",
      object,
      production: now.type,
      migrations: was.type,
      drift: [
        { sql: `${target} TYPE ${now.type} USING ${escapeIdentifier(now.name)}::${now.type}` },
      ],
    });
  if (was.notNull !== now.notNull)
    out.push({
      kind: "nullability",
      change: "changed",
      object,
      production: now.notNull ? "NOT NULL" : "nullable",
      migrations: was.notNull ? "NOT NULL" : "nullable",
      drift: [{ sql: `${target} ${now.notNull ? "SET" : "DROP"} NOT NULL` }],
    });
  if (was.default !== now.default) {
    const special = [was.default, now.default].find(
      (d) => d !== undefined && (/^generated /.test(d) || /nextval\(/.test(d)),
    );
    out.push({
      kind: "default",
      change: "changed",
      object,
      production: now.default ?? "no default",
      migrations: was.default ?? "no default",
      drift:
        special === undefined
          ? [
              {
                sql: `${target} ${now.default === undefined ? "DROP DEFAULT" : `SET DEFAULT ${now.default}`}`,
              },
            ]
          : [],
      ...(special === undefined
        ? {}
        : {
            unreproduced: `an identity, generated column or sequence default (${special}) is not restated as drift`,
          }),
    });
  }
  return out;
}

/** Pair what both sides have by name first, then by definition (the same thing named apart). */
function pairUp<T extends { name: string }>(
  ours: T[],
  theirs: T[],
  body: (item: T) => string,
): { missing: T[]; extra: T[]; changed: [T, T][] } {
  const left = new Set(theirs);
  const missing: T[] = [];
  const changed: [T, T][] = [];
  const unnamed: T[] = [];
  for (const item of ours) {
    const same = theirs.find((t) => t.name === item.name && left.has(t));
    if (!same) unnamed.push(item);
    else {
      left.delete(same);
      if (body(same) !== body(item)) changed.push([item, same]);
    }
  }
  for (const item of unnamed) {
    const same = [...left].find((t) => body(t) === body(item));
    if (same) left.delete(same);
    else missing.push(item);
  }
  return { missing, extra: [...left], changed };
}

function constraintBody(c: ConstraintShape): string {
  return `${c.kind} ${c.definition}`;
}

/** The console line of a difference. */
function lineOf(d: Omit<Difference, "line">): string {
  if (d.change === "missing")
    return `${d.object}: missing in production${d.hint ? ` (${d.hint})` : ""}`;
  if (d.change === "extra") return `${d.object}: only in production`;
  if (d.kind === "type")
    return `${d.object}: type ${d.production} in production, ${d.migrations} in migrations`;
  if (d.kind === "nullability")
    return `${d.object}: ${d.production} in production, ${d.migrations} in migrations`;
  if (d.kind === "default")
    return `${d.object}: default ${d.production} in production, ${d.migrations} in migrations`;
  return `${d.object}: ${d.production} in production, ${d.migrations} in migrations`;
}

/**
 * How production's catalog differs from the migrations', most important first (missing tables,
 * missing columns, types, nullability and defaults, missing constraints, missing indexes, then
 * what only production has). What goes with a missing table or column (its indexes, its
 * constraints, a foreign key to it) is not listed again.
 */
export function compareCatalogs(migrations: Catalog, production: Catalog): Difference[] {
  const found: { rank: number; phase: number; order: number; d: Omit<Difference, "line"> }[] = [];
  const add = (d: Omit<Difference, "line">) => {
    const key = `${d.change} ${d.kind}`;
    found.push({ rank: RANK[key] ?? 9, phase: PHASE[key] ?? 9, order: found.length, d });
  };
  const ownType = productionOnlyType(migrations, production);
  // Production's own tables that drift cannot create (a view, a column of production's own type).
  const unbuilt = new Set<string>();
  const missingTables = new Set([...migrations.keys()].filter((k) => !production.has(k)));
  for (const [key, table] of migrations) {
    const prod = production.get(key);
    if (!prod) {
      add({
        kind: "table",
        change: "missing",
        object: `${table.kind === "table" ? "table" : table.kind} ${key}`,
        migrations: table.kind,
        drift:
          table.kind !== "table"
            ? [{ sql: `DROP ${table.kind.toUpperCase()} ${sqlTable(table)} CASCADE` }]
            : PLAIN_NAME.test(table.name) &&
                (table.schema === "public" || PLAIN_NAME.test(table.schema))
              ? [{ dropTable: key }]
              : [{ sql: `DROP TABLE ${sqlTable(table)} CASCADE` }],
      });
      continue;
    }
    compareTable(table, prod, add, missingTables, ownType, unbuilt);
  }
  for (const [key, table] of production) {
    if (migrations.has(key) || BOOKKEEPING.has(key)) continue;
    const typed = table.columns.map((c) => ownType(c.type)).find((t) => t !== undefined);
    const why =
      table.kind !== "table"
        ? `a ${table.kind} of production's own is not restated as drift`
        : typed
          ? `its type ${typed} exists only in production`
          : undefined;
    add({
      kind: "table",
      change: "extra",
      object: `${table.kind === "table" ? "table" : table.kind} ${key}`,
      production: table.kind,
      drift: why
        ? []
        : [
            ...(table.schema === "public"
              ? []
              : [{ sql: `CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(table.schema)}` }]),
            {
              sql: `CREATE TABLE ${sqlTable(table)} (${table.columns.map(columnDefinition).join(", ")})`,
            },
          ],
      ...(why ? { unreproduced: why } : {}),
    });
    if (why) unbuilt.add(key);
  }
  // Their constraints and indexes after every table: a foreign key may reference a later one.
  for (const [key, table] of production) {
    if (migrations.has(key) || BOOKKEEPING.has(key)) continue;
    for (const c of table.constraints) addConstraint(table, c, "extra", add, unbuilt);
    for (const i of table.indexes) addIndex(table, i, "extra", add, unbuilt);
  }
  for (const d of enumChanges(migrations, production)) add(d);
  found.sort((a, b) => a.rank - b.rank || a.order - b.order);
  return found.map(({ d }) => ({ ...d, line: lineOf(d) }));
}

/** Values an enum on both sides has on one only (a type one side lacks shows in its columns). */
function enumChanges(migrations: Catalog, production: Catalog): Omit<Difference, "line">[] {
  const out: Omit<Difference, "line">[] = [];
  for (const [name, ours] of migrations.enums ?? []) {
    const theirs = production.enums?.get(name);
    if (!theirs) continue;
    for (const label of ours.filter((l) => !theirs.includes(l)))
      out.push({
        kind: "enum",
        change: "missing",
        object: `enum ${name} value ${quoteLiteral(label)}`,
        migrations: label,
        drift: [],
        unreproduced: "Postgres cannot drop a value from an enum",
      });
    for (const label of theirs.filter((l) => !ours.includes(l)))
      out.push({
        kind: "enum",
        change: "extra",
        object: `enum ${name} value ${quoteLiteral(label)}`,
        production: label,
        drift: [{ sql: `ALTER TYPE ${name} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}` }],
      });
  }
  return out;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Which of production's own types (an enum, a domain) the migrations do not define: a column
 * of such a type cannot be added as drift, the type is not there.
 */
function productionOnlyType(migrations: Catalog, production: Catalog) {
  return (type: string): string | undefined => {
    const base = type.replace(/\[\]$/, "").replace(/\(.*\)$/, "");
    return production.types?.has(base) && !migrations.types?.has(base) ? base : undefined;
  };
}

type Add = (d: Omit<Difference, "line">) => void;

function addConstraint(
  table: TableShape,
  c: ConstraintShape,
  change: "missing" | "extra",
  add: Add,
  unbuilt: ReadonlySet<string> = new Set(),
) {
  const target = `ALTER TABLE ${sqlTable(table)}`;
  const on = [table.key, c.references].find((t) => t !== undefined && unbuilt.has(t));
  add({
    kind: "constraint",
    change,
    object: `${c.kind} ${c.name} on ${table.key} (${c.definition})`,
    [change === "missing" ? "migrations" : "production"]: c.definition,
    drift: on
      ? []
      : [
          change === "missing"
            ? { sql: `${target} DROP CONSTRAINT IF EXISTS ${escapeIdentifier(c.name)}` }
            : { sql: `${target} ADD CONSTRAINT ${escapeIdentifier(c.name)} ${c.definition}` },
        ],
    ...(on ? { unreproduced: `table ${on} is not restated as drift` } : {}),
  });
}

function addIndex(
  table: TableShape,
  i: IndexShape,
  change: "missing" | "extra",
  add: Add,
  unbuilt: ReadonlySet<string> = new Set(),
) {
  const on = unbuilt.has(table.key);
  add({
    kind: "index",
    change,
    object: `index ${i.name} on ${table.key} (${indexUsing(i)})`,
    [change === "missing" ? "migrations" : "production"]: i.definition,
    drift: on
      ? []
      : [
          change === "missing"
            ? { sql: `DROP INDEX IF EXISTS ${sqlSchemaObject(table, i.name)}` }
            : { sql: i.definition },
        ],
    ...(on ? { unreproduced: `table ${table.key} is not restated as drift` } : {}),
  });
}

function compareTable(
  table: TableShape,
  prod: TableShape,
  add: Add,
  missingTables: Set<string>,
  ownType: (type: string) => string | undefined,
  unbuilt: ReadonlySet<string>,
): void {
  const prodColumns = new Map(prod.columns.map((c) => [c.name, c]));
  const ourColumns = new Map(table.columns.map((c) => [c.name, c]));
  const missingColumns = new Set<string>();
  for (const column of table.columns) {
    const now = prodColumns.get(column.name);
    if (now) {
      for (const change of columnChanges(table, column, now)) add(change);
      continue;
    }
    missingColumns.add(column.name);
    const ref = `${table.key}.${column.name}`;
    const plain = [table.schema === "public" ? "x" : table.schema, table.name, column.name].every(
      (p) => PLAIN_NAME.test(p),
    );
    // One column of the same type that only production has is most likely this one renamed.
    const alike = prod.columns.filter((c) => !ourColumns.has(c.name) && c.type === column.type);
    add({
      kind: "column",
      change: "missing",
      object: ref,
      migrations: column.type,
      ...(alike.length === 1
        ? { hint: `production has ${table.key}.${alike[0]?.name} of this type: renamed?` }
        : {}),
      drift: plain
        ? [{ dropColumn: ref }]
        : [
            {
              sql: `ALTER TABLE ${sqlTable(table)} DROP COLUMN ${escapeIdentifier(column.name)} CASCADE`,
            },
          ],
    });
  }
  for (const column of prod.columns) {
    if (ourColumns.has(column.name)) continue;
    const typed = ownType(column.type);
    add({
      kind: "column",
      change: "extra",
      object: `${table.key}.${column.name}`,
      production: column.type,
      drift: typed
        ? []
        : [{ sql: `ALTER TABLE ${sqlTable(table)} ADD COLUMN ${columnDefinition(column)}` }],
      ...(typed ? { unreproduced: `its type ${typed} exists only in production` } : {}),
    });
  }
  // A constraint or index on a column (or to a table) one side lacks went with it.
  const goneWith = (columns: string[], references?: string) =>
    columns.some((c) => missingColumns.has(c)) ||
    (references !== undefined && missingTables.has(references));
  const constraints = pairUp(table.constraints, prod.constraints, constraintBody);
  for (const c of constraints.missing)
    if (!goneWith(c.columns, c.references)) addConstraint(table, c, "missing", add);
  for (const [ours, theirs] of constraints.changed)
    add({
      kind: "constraint",
      change: "changed",
      object: `${ours.kind} ${ours.name} on ${table.key}`,
      // A kind that differs too is in the definition: PRIMARY KEY (id) against UNIQUE (id).
      production: theirs.definition,
      migrations: ours.definition,
      drift: [
        { sql: `ALTER TABLE ${sqlTable(table)} DROP CONSTRAINT ${escapeIdentifier(ours.name)}` },
        {
          sql: `ALTER TABLE ${sqlTable(table)} ADD CONSTRAINT ${escapeIdentifier(theirs.name)} ${theirs.definition}`,
        },
      ],
    });
  const indexes = pairUp(table.indexes, prod.indexes, indexBody);
  for (const i of indexes.missing) if (!goneWith(i.columns)) addIndex(table, i, "missing", add);
  for (const [ours, theirs] of indexes.changed)
    add({
      kind: "index",
      change: "changed",
      object: `index ${ours.name} on ${table.key}`,
      production: indexUsing(theirs),
      migrations: indexUsing(ours),
      drift: [
        { sql: `DROP INDEX ${sqlSchemaObject(table, ours.name)}` },
        { sql: theirs.definition },
      ],
    });
  // Production's own constraints and indexes are listed even on its own columns: adding the
  // column back as drift does not bring them.
  for (const c of constraints.extra) addConstraint(table, c, "extra", add, unbuilt);
  for (const i of indexes.extra) addIndex(table, i, "extra", add);
}

/**
 * Every difference's drift steps, in the order they apply to the migrations' clone (constraints
 * and indexes before their columns, production's tables before its constraints).
 */
export function driftToProduction(differences: readonly Difference[]): DriftStep[] {
  return differences
    .map((d, order) => ({ d, order, phase: PHASE[`${d.change} ${d.kind}`] ?? 9 }))
    .sort((a, b) => a.phase - b.phase || a.order - b.order)
    .flatMap(({ d }) => d.drift);
}
