import pg from "pg";
import { PostgresFailedError, UnsafeDatabaseError } from "../errors.ts";
import { type DriftStep, driftSql, migrationsUpTo } from "./drift.ts";
import type { Migration } from "./migrations.ts";
import type { StartedPostgres } from "./provider.ts";

const { escapeIdentifier } = pg;

/** A database cloned for one scenario. */
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
  private readonly migrations: Migration[];
  private readonly templates = new Map<number, Promise<string>>();
  private readonly created = new Set<string>();
  private readonly pools = new Map<string, pg.Pool>();
  private admin: Promise<pg.Client> | undefined;
  private counter = 0;

  constructor(server: StartedPostgres, migrations: Migration[]) {
    this.server = server;
    this.migrations = migrations;
  }

  /** The number of the newest migration. */
  get latestMigration(): number {
    return this.migrations.at(-1)?.number ?? 0;
  }

  private adminClient(): Promise<pg.Client> {
    this.admin ??= (async () => {
      const client = new pg.Client({
        connectionString: this.server.urlFor("postgres"),
        application_name: "faultline",
      });
      client.on("error", () => {});
      await client.connect();
      return client;
    })();
    return this.admin;
  }

  /** The template holding migrations 1..upTo, built on first use. */
  template(upTo: number): Promise<string> {
    let template = this.templates.get(upTo);
    if (!template) {
      template = this.buildTemplate(upTo);
      this.templates.set(upTo, template);
    }
    return template;
  }

  private async buildTemplate(upTo: number): Promise<string> {
    const name = `faultline_template_m${upTo}`;
    const admin = await this.adminClient();
    await admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
    this.created.add(name);
    const client = new pg.Client({
      connectionString: this.server.urlFor(name),
      application_name: "faultline",
    });
    client.on("error", () => {});
    await client.connect();
    try {
      for (const migration of this.migrations) {
        if (migration.number > upTo) break;
        try {
          await client.query(migration.sql);
        } catch (error) {
          throw new PostgresFailedError(
            `migration ${migration.name} failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    } finally {
      await client.end();
    }
    await admin.query(
      `ALTER DATABASE ${escapeIdentifier(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`,
    );
    return name;
  }

  /** Clone a fresh database for a scenario and apply its drift. */
  async create(label: string, drift: readonly DriftStep[]): Promise<ScenarioDatabase> {
    const upTo = migrationsUpTo(drift, this.latestMigration);
    const template = await this.template(upTo);
    const slug = label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .slice(0, 40);
    const name = `fl_${slug}_${process.pid}_${++this.counter}`;
    const admin = await this.adminClient();
    // FILE_COPY copies the template's few files directly, faster than WAL-logging each block.
    await admin.query(
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
        throw new DriftFailedError(index, (error as Error).message);
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
    const admin = await this.adminClient();
    // FORCE ends sessions a service left behind, including ones stuck in an aborted transaction.
    await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
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

/** A drift step's SQL failed; `index` is its position in the scenario's `drift` list. */
export class DriftFailedError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(`drift[${index}]: ${message}`);
    this.index = index;
  }
}
