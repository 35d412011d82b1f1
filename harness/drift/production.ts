import { open, stat } from "node:fs/promises";
import path from "node:path";
import { BadUsageError, FaultlineError } from "../errors.ts";
import {
  Databases,
  type LoadedSchema,
  loadSchema,
  type PostgresProvider,
  parsePostgresUrl,
  redactUrl,
  refuseRemote,
  type SchemaSource,
  startEnvironment,
} from "../postgres/index.ts";
import type { Catalog } from "./catalog.ts";
import { compareCatalogs, type Difference } from "./compare.ts";
import { readCatalogReadOnly } from "./read-only.ts";

/** Where production's schema comes from. */
export type ProductionSource =
  /** A `pg_dump --schema-only` file, loaded into a scratch database on faultline's own Postgres. */
  | { file: string }
  /** A running production server, read in one read-only transaction. */
  | { url: string };

/** What `compareWithProduction` needs. */
export interface ProductionDriftOptions {
  production: ProductionSource;
  /** The migrations side, as `run` builds its template; the bundled payments migrations by default. */
  schema?: SchemaSource;
  /** The Postgres the scratch databases go on (faultline's own; embedded by default). */
  provider?: PostgresProvider;
  /** A production URL (and a provider's server) off this machine is allowed. */
  allowRemote?: boolean;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

/** Production's schema against the migrations'. */
export interface ProductionDriftReport {
  /** The migrations side, e.g. `plain migrations: 2 files in fixtures/schema`. */
  migrations: string;
  /** The production side as given (a URL with its password hidden). */
  production: string;
  /** Most important first; empty when production matches. */
  differences: Difference[];
  /** How many tables and views the migrations build. */
  tables: number;
  /** From start to the comparison, in milliseconds. */
  ms: number;
}

/** The production side as the user named it, for messages (never a password). */
export function describeProduction(source: ProductionSource): string {
  if ("url" in source) return `url:${redactUrl(parsePostgresUrl(source.url, "--production"))}`;
  const relative = path.relative(process.cwd(), source.file);
  return relative && !relative.startsWith("..") ? relative : source.file;
}

/**
 * Check production's source before Postgres starts: a file that is there and is a plain-SQL
 * dump, a URL on this machine unless remote servers are allowed. Returns the dump read as a
 * schema source.
 */
export async function checkProduction(
  source: ProductionSource,
  allowRemote: boolean,
): Promise<LoadedSchema | undefined> {
  if ("url" in source) {
    const url = parsePostgresUrl(source.url, "--production");
    refuseRemote(url, allowRemote, "faultline reads production's catalog");
    return undefined;
  }
  const shown = describeProduction(source);
  const info = await stat(source.file).catch(() => undefined);
  if (!info) throw new BadUsageError(`--production ${shown}: no such file`);
  if (!info.isFile())
    throw new BadUsageError(
      `--production ${shown}: not a file (expected a pg_dump --schema-only file)`,
    );
  const handle = await open(source.file, "r");
  const head = Buffer.alloc(5);
  try {
    await handle.read(head, 0, 5, 0);
  } finally {
    await handle.close();
  }
  // pg_dump -Fc / -Ft archives are what people keep as backups; only psql's plain format loads.
  if (head.toString("latin1") === "PGDMP")
    throw new BadUsageError(
      `--production ${shown}: a pg_dump custom-format archive, not SQL; turn it into plain SQL first (pg_restore --schema-only -f schema.sql ${shown}) or dump with pg_dump --schema-only`,
    );
  try {
    return await loadSchema({ schema: path.resolve(source.file) });
  } catch (error) {
    throw new BadUsageError(`--production ${shown}: ${(error as Error).message}`);
  }
}

/** A Postgres error (it carries a SQLSTATE): the SQL was refused, not the server unreachable. */
function refusedSql(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" && /^[0-9A-Z]{5}$/.test(cause.code);
}

/**
 * Build the migrations' schema on faultline's own Postgres, take production's (a dump loaded
 * beside it, or a URL read read-only) and compare the two catalogs.
 */
export async function compareWithProduction(
  options: ProductionDriftOptions,
): Promise<ProductionDriftReport> {
  const startedAt = performance.now();
  const allowRemote = Boolean(options.allowRemote);
  const dump = await checkProduction(options.production, allowRemote);
  const shown = describeProduction(options.production);
  // A production URL is read while Postgres starts: neither waits on the other.
  const fromUrl =
    "url" in options.production ? readCatalogReadOnly(options.production.url) : undefined;
  fromUrl?.catch(() => {});
  const environment = await startEnvironment({
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.schema ? { schema: options.schema } : {}),
    allowNonLoopback: allowRemote,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  try {
    const ours = await environment.databases.create("drift migrations", []);
    const migrations = await readCatalogReadOnly(ours.url);
    let production: Catalog;
    if (fromUrl) production = await fromUrl;
    else {
      const scratch = new Databases(environment.server, dump as LoadedSchema, {
        ...(options.signal ? { signal: options.signal } : {}),
      });
      try {
        const theirs = await scratch.create("drift production", []).catch((error: unknown) => {
          if (!refusedSql(error) || !(error instanceof FaultlineError)) throw error;
          throw new BadUsageError(
            `--production ${shown}: not a schema that loads (Postgres refused it):\n${error.message}`,
          );
        });
        production = await readCatalogReadOnly(theirs.url);
      } finally {
        await scratch.close();
      }
    }
    return {
      migrations: environment.schema.description,
      production: shown,
      differences: compareCatalogs(migrations, production),
      tables: migrations.size,
      ms: performance.now() - startedAt,
    };
  } finally {
    await environment.stop();
  }
}
