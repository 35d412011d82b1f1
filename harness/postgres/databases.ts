import pg from "pg";
import { PostgresFailedError, UnsafeDatabaseError } from "../errors.ts";
import { applyMigration, runMigrateCommand } from "./apply-migration.ts";
import { diffSchemaShapes, readSchemaShape, type SchemaShape } from "./catalog.ts";
import { type DriftStep, driftSql, migrationCount, UnknownMigrationError } from "./drift.ts";
import type { Migration } from "./migrations.ts";
import { dropUnknownSettings } from "./pg-dump.ts";
import type { StartedPostgres } from "./provider.ts";
import type { LoadedSchema } from "./schema-source.ts";

const { escapeIdentifier } = pg;

/** A database cloned for one scenario. */
/**
 * Builds the template by starting the service on it (`database: { migrate: "service" }`):
 * given the template's URL, resolves with the service's output once it has started and stopped.
 */
export type MigrateWithService = (databaseUrl: string) => Promise<string[]>;

export interface ScenarioDatabase {
  readonly name: string;
  readonly url: string;
  /** Run SQL in this database as the superuser (for seeding, invariants, drift). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/**
 * Builds each migrated schema once into a template database and clones it per scenario, so
 * no scenario re-runs migrations and scenarios cannot see each other's rows. It drops only
 * databases it created itself.
 */
export class Databases {
  private readonly server: StartedPostgres;
  readonly schema: LoadedSchema;
  private readonly migrations: Migration[];
  private readonly signal: AbortSignal | undefined;
  private readonly migrateWithService: MigrateWithService | undefined;
  private readonly templates = new Map<number, Promise<string>>();
  private readonly created = new Set<string>();
  private readonly pools = new Map<string, pg.Pool>();
  private admin: Promise<pg.Client> | undefined;
  private counter = 0;

  /** `schema` may be a bare migration list (plain layout), as before schema sources existed. */
  constructor(
    server: StartedPostgres,
    schema: LoadedSchema | Migration[],
    options: { signal?: AbortSignal; migrateWithService?: MigrateWithService } = {},
  ) {
    this.server = server;
    this.schema = Array.isArray(schema)
      ? { layout: "plain", description: "", migrations: schema, hash: "", origin: "" }
      : schema;
    this.migrations = this.schema.migrations;
    this.signal = options.signal;
    this.migrateWithService = options.migrateWithService;
  }

  /** The number of the newest migration (its `NNN`, or the migration count for other layouts). */
  get latestMigration(): number {
    return this.migrations.at(-1)?.number ?? 0;
  }

  /**
   * Name of the template holding the first `count` migrations. The schema's hash is part of it
   * so two schemas can share a server (and a cached data dir never passes off another schema).
   */
  private templateName(count: number): string {
    const hash = this.schema.hash.slice(0, 12);
    // On a server faultline does not own (url:), every name carries the run's own prefix, so
    // the run drops exactly its own databases and two runs never share a name.
    const prefix = this.server.databasePrefix ?? "faultline_";
    return hash ? `${prefix}template_${hash}_m${count}` : `${prefix}template_m${count}`;
  }

  /**
   * Take over a fully migrated template that is already on the server (restored from the
   * template cache with the data dir). False when it is not there, and the caller builds it.
   */
  async adoptTemplate(): Promise<boolean> {
    const name = this.templateName(this.migrations.length);
    const found = await this.adminQuery(
      "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate",
      [name],
    );
    if (found.rowCount !== 1) return false;
    this.created.add(name);
    this.templates.set(this.migrations.length, Promise.resolve(name));
    return true;
  }

  private adminQueue: Promise<unknown> = Promise.resolve();

  /**
   * A statement on the admin connection. Cells run in parallel share it, so statements are
   * queued here rather than in pg's client, which deprecates overlapping `query` calls.
   */
  private adminQuery(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    const next = this.adminQueue.then(async () => (await this.adminClient()).query(text, values));
    this.adminQueue = next.catch(() => {});
    return next;
  }

  /** A connection of faultline's own to database `name` (its errors are the caller's to see). */
  private async connect(name: string): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.server.urlFor(name),
      application_name: "faultline",
    });
    client.on("error", () => {});
    await client.connect();
    return client;
  }

  /** The shape of database `name`, read over a connection of its own. */
  private async shapeOf(name: string): Promise<SchemaShape> {
    const client = await this.connect(name);
    try {
      return await readSchemaShape((sql) => client.query(sql));
    } finally {
      await client.end();
    }
  }

  private adminClient(): Promise<pg.Client> {
    this.admin ??= this.connect("postgres");
    return this.admin;
  }

  /** The template holding the first `count` migrations (all by default), built on first use. */
  template(count = this.migrations.length): Promise<string> {
    let template = this.templates.get(count);
    if (!template) {
      template = this.buildTemplate(count);
      this.templates.set(count, template);
    }
    return template;
  }

  private async buildTemplate(count: number): Promise<string> {
    const name = this.templateName(count);
    await this.adminQuery(`CREATE DATABASE ${escapeIdentifier(name)}`);
    this.created.add(name);
    const { command, roles } = this.schema;
    if (command) {
      const before = await this.shapeOf(name);
      const byService = this.schema.layout === "service-migrates";
      if (byService && !this.migrateWithService)
        throw new PostgresFailedError(
          'database.migrate "service": the template is built by starting the service, and this run has none to start',
        );
      const output =
        byService && this.migrateWithService
          ? await this.migrateWithService(this.server.urlFor(name))
          : await runMigrateCommand(
              command.line,
              command.cwd,
              {
                host: this.server.host,
                port: this.server.port,
                user: this.server.user,
                database: name,
              },
              this.signal,
            );
      // A library migrator that logs its error and resolves exits 0 having done nothing: a
      // template without the schema would make every verdict about some other database.
      const after = await this.shapeOf(name);
      const unchanged = diffSchemaShapes(before, after).length === 0;
      if (unchanged || after.size === 0) {
        const tail = output.length
          ? `\n--- last ${output.length} lines of its output ---\n${output.join("\n")}`
          : "\n(it printed nothing)";
        const outcome = after.size === 0 ? "created no table" : "left the schema exactly as it was";
        throw new PostgresFailedError(
          byService
            ? `database.migrate "service": the service became ready on the template but ${outcome}: does it migrate itself at start (and is that switched on in service.env)? A migrator that logs its error and carries on looks like this — check its output${tail}`
            : `migrate command exited 0 but ${outcome}: ${command.line}\n  in ${command.cwd}; a migrator that logs its error and carries on looks like this — check its output${tail}`,
        );
      }
      // The command's own connections may linger a moment; a template must have none.
      await this.adminQuery(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [name],
      );
    } else {
      const client = await this.connect(name);
      try {
        // A dump names its owners and grantees; they are cluster-wide and must exist first.
        for (const role of roles ?? []) {
          await this.adminQuery(
            `DO $$BEGIN CREATE ROLE ${escapeIdentifier(role)} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$`,
          );
        }
        const known =
          this.schema.layout === "pg_dump"
            ? new Set(
                (await client.query<{ name: string }>("SELECT name FROM pg_settings")).rows.map(
                  (r) => r.name,
                ),
              )
            : undefined;
        for (const migration of this.migrations.slice(0, count)) {
          if (this.signal?.aborted) throw this.signal.reason;
          if (!known) {
            await applyMigration(client, migration);
            continue;
          }
          const sql = dropUnknownSettings(migration.sql, known);
          await applyMigration(client, { ...migration, sql, sections: [sql], offsets: [0] });
        }
      } finally {
        await client.end();
      }
    }
    await this.adminQuery(
      `ALTER DATABASE ${escapeIdentifier(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`,
    );
    return name;
  }

  /** Clone a fresh database for a scenario and apply its drift. */
  async create(label: string, drift: readonly DriftStep[]): Promise<ScenarioDatabase> {
    let count = this.migrations.length;
    for (const [index, step] of drift.entries()) {
      if (!("stopAtMigration" in step)) continue;
      if (this.schema.command)
        throw new DriftFailedError(
          index,
          `stopAtMigration needs migration files; this schema comes from ${this.schema.layout === "service-migrates" ? "the service migrating itself" : "a migrate command"}, which applies them all at once: give the folder as database.migrations instead, or drift with dropColumn/dropTable/sql what the missing migration adds`,
        );
      try {
        count = Math.min(count, migrationCount(step.stopAtMigration, this.migrations));
      } catch (error) {
        if (error instanceof UnknownMigrationError)
          throw new DriftFailedError(index, error.message);
        throw error;
      }
    }
    const template = await this.template(count);
    const slug = label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .slice(0, 40);
    const name = this.server.databasePrefix
      ? `${this.server.databasePrefix}${slug.slice(0, 30)}_${++this.counter}`
      : `fl_${slug}_${process.pid}_${++this.counter}`;
    // FILE_COPY copies the template's few files directly, faster than WAL-logging each block.
    await this.adminQuery(
      `CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(template)} STRATEGY FILE_COPY`,
    );
    this.created.add(name);
    const database = this.handle(name);
    for (const [index, step] of drift.entries()) {
      const sql = driftSql(step);
      if (!sql) continue;
      try {
        await database.query(sql);
      } catch (error) {
        const hint = await driftHint(database, step, error).catch(() => "");
        await this.drop(name).catch(() => {});
        throw new DriftFailedError(index, `${(error as Error).message}${hint}`);
      }
    }
    return database;
  }

  private handle(name: string): ScenarioDatabase {
    const pool = new pg.Pool({
      connectionString: this.server.urlFor(name),
      max: 2,
      application_name: "faultline",
    });
    pool.on("error", () => {});
    this.pools.set(name, pool);
    return {
      name,
      url: this.server.urlFor(name),
      query: (sql, params) => pool.query(sql, params),
    };
  }

  /** Drop a scenario database; refuses any database this object did not create. */
  async drop(name: string): Promise<void> {
    if (!this.created.has(name)) {
      throw new UnsafeDatabaseError(
        `refusing to drop database ${name}: faultline did not create it`,
      );
    }
    await this.pools.get(name)?.end();
    this.pools.delete(name);
    // FORCE ends sessions a service left behind, including ones stuck in an aborted transaction.
    await this.adminQuery(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
    this.created.delete(name);
  }

  /** Close every connection this object holds. */
  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.end().catch(() => {})));
    this.pools.clear();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.end().catch(() => {});
  }
}

/**
 * A drift step named a table or column the schema does not have: say what it does have, since
 * the usual cause is a table in another schema (`billing.invoices`) or a quoted mixed-case name
 * (Prisma's `User`).
 */
async function driftHint(db: ScenarioDatabase, step: DriftStep, error: unknown): Promise<string> {
  const code = (error as { code?: string }).code;
  const ref =
    "dropColumn" in step
      ? step.dropColumn
      : "renameColumn" in step
        ? step.renameColumn
        : "dropTable" in step
          ? `${step.dropTable}.x`
          : undefined;
  if (!ref || (code !== "42P01" && code !== "42703")) return "";
  const parts = ref.split(".");
  const table = parts.at(-2) as string;
  if (code === "42P01") {
    const found = await db.query<{ t: string }>(
      `SELECT format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname)) AS t
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE lower(c.relname) = lower($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      [table],
    );
    return found.rowCount
      ? `; did you mean ${found.rows.map((r) => r.t.replaceAll('"', "")).join(" or ")}?`
      : "";
  }
  const qualified = parts
    .slice(0, -1)
    .map((p) => escapeIdentifier(p))
    .join(".");
  const columns = await db.query<{ c: string }>(
    "SELECT attname AS c FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    [qualified],
  );
  return columns.rowCount
    ? `; ${parts.slice(0, -1).join(".")} has ${columns.rows.map((r) => r.c).join(", ")}`
    : "";
}

/** A drift step's SQL failed; `index` is its position in the scenario's `drift` list. */
export class DriftFailedError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(`drift[${index}]: ${message}`);
    this.index = index;
  }
}
