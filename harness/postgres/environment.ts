import path from "node:path";
import { UnsafeDatabaseError } from "../errors.ts";
import { PACKAGE_ROOT, throwIfAborted } from "../lifecycle/index.ts";
import { clusterCacheDir } from "./cluster-cache.ts";
import { Databases, type MigrateWithService } from "./databases.ts";
import { embeddedPostgres } from "./embedded-provider.ts";
import type { DataSnapshot, PostgresProvider, StartedPostgres } from "./provider.ts";
import { type LoadedSchema, loadSchema, type SchemaSource } from "./schema-source.ts";

/** Where the payments schema's migrations live. */
export const DEFAULT_MIGRATIONS_DIR = path.join(PACKAGE_ROOT, "fixtures", "schema");

/** One Postgres server with the migrated template built: what every scenario of a run shares. */
export interface RunEnvironment extends AsyncDisposable {
  server: StartedPostgres;
  databases: Databases;
  /** The schema the template was built from. */
  schema: LoadedSchema;
  /**
   * `hit`: the migrated template came from the cache, no migration ran; `miss`: it was built
   * and saved for the next run; `off`: built, not cached (provider without snapshots, or
   * FAULTLINE_CLUSTER_CACHE=off, or `templateCache: false`).
   */
  templateCache: "hit" | "miss" | "off";
  /** Time to start Postgres and build the template, in milliseconds. */
  setupMs: number;
  postgres: string;
  stop(): Promise<void>;
}

/** What `startEnvironment` accepts. */
export interface EnvironmentOptions {
  provider?: PostgresProvider;
  /** Where the schema comes from; the bundled payments migrations by default. */
  schema?: SchemaSource;
  /** Same as `schema: { migrations: dir }` (kept for older callers). */
  migrationsDir?: string;
  signal?: AbortSignal;
  /** Allow a server that is not on loopback (a provider pointing elsewhere). Off by default. */
  allowNonLoopback?: boolean;
  /** False skips the template cache for this run (`--no-template-cache`). */
  templateCache?: boolean;
  /** For `migrate: "service"`: starts the service once on the template (see MigrateWithService). */
  migrateWithService?: MigrateWithService;
  /** Lines for the console about what start-up is doing (schema detected, cache hit or rebuild). */
  onProgress?: (line: string) => void;
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
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<RunEnvironment> {
  const startedAt = Date.now();
  const progress = options.onProgress ?? (() => {});
  const provider = options.provider ?? embeddedPostgres;
  const schema = await loadSchema(
    options.schema ?? { migrations: options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR },
  );
  progress(schema.description);
  const snapshot: DataSnapshot | undefined =
    options.templateCache !== false && clusterCacheDir() !== undefined
      ? // v1: how Databases names templates; a change there must not adopt old snapshots.
        { key: `v1:${schema.layout}:${schema.hash}`, slot: schema.origin }
      : undefined;
  const server = await provider.start({ signal: options.signal, dataSnapshot: snapshot });
  if (!isLoopback(server.host) && !options.allowNonLoopback) {
    await server.stop();
    throw new UnsafeDatabaseError(
      `refusing Postgres at ${server.host}: faultline creates and drops databases, so it only uses loopback servers unless allowNonLoopback is set`,
    );
  }
  const databases = new Databases(server, schema, {
    signal: options.signal,
    ...(options.migrateWithService ? { migrateWithService: options.migrateWithService } : {}),
  });
  const stop = async () => {
    await databases.close();
    await server.stop();
  };
  let templateCache: RunEnvironment["templateCache"] = "off";
  try {
    if (server.restoredSnapshot && (await databases.adoptTemplate())) {
      templateCache = "hit";
      progress("template restored from the cache: no migration ran");
    } else {
      const saving = snapshot && server.saveSnapshot ? snapshot : undefined;
      if (saving && server.staleSnapshot)
        progress("schema changed since the cached template: rebuilding");
      else if (saving) progress("no cached template for this schema: building it");
      await databases.template();
      throwIfAborted(options.signal);
      if (saving && server.saveSnapshot) {
        // The snapshot must be taken with no session open: close ours, the server restarts.
        await databases.close();
        await server.saveSnapshot(saving);
        templateCache = "miss";
      }
    }
    throwIfAborted(options.signal);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    server,
    databases,
    schema,
    templateCache,
    setupMs: Date.now() - startedAt,
    postgres: `${provider.name} Postgres ${server.version} on ${server.host}:${server.port}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
