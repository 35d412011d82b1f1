import path from "node:path";
import { UnsafeDatabaseError } from "../errors.ts";
import { PACKAGE_ROOT, throwIfAborted } from "../lifecycle/index.ts";
import { Databases } from "./databases.ts";
import { embeddedPostgres } from "./embedded-provider.ts";
import { loadMigrations } from "./migrations.ts";
import type { PostgresProvider, StartedPostgres } from "./provider.ts";

/** Where the payments schema's migrations live. */
export const DEFAULT_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, "fixtures", "schema");

/** One Postgres server with the migrated template built: what every scenario of a run shares. */
export interface RunEnvironment extends AsyncDisposable {
  server: StartedPostgres;
  databases: Databases;
  /** Time to start Postgres and build the template, in milliseconds. */
  setupMs: number;
  postgres: string;
  stop(): Promise<void>;
}

/** Whether a host name or address is this machine's loopback. */
export function isLoopback(host: string): boolean {
  return (
    host === "localhost" ||
    host === "::1" ||
    host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** Start Postgres and build the template. Call it early: it runs beside other start-up work. */
export async function startEnvironment(
  options: {
    provider?: PostgresProvider;
    migrationsDir?: string;
    signal?: AbortSignal;
    /** Allow a server that is not on loopback (a provider pointing elsewhere). Off by default. */
    allowNonLoopback?: boolean;
  } = {},
): Promise<RunEnvironment> {
  const startedAt = Date.now();
  const provider = options.provider ?? embeddedPostgres;
  const migrations = await loadMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const server = await provider.start({ signal: options.signal });
  if (!isLoopback(server.host) && !options.allowNonLoopback) {
    await server.stop();
    throw new UnsafeDatabaseError(
      `refusing Postgres at ${server.host}: faultline creates and drops databases, so it only uses loopback servers unless allowNonLoopback is set`,
    );
  }
  const databases = new Databases(server, migrations);
  const stop = async () => {
    await databases.close();
    await server.stop();
  };
  try {
    await databases.template(databases.latestMigration);
    throwIfAborted(options.signal);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    server,
    databases,
    setupMs: Date.now() - startedAt,
    postgres: `${provider.name} Postgres ${server.version} on ${server.host}:${server.port}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
