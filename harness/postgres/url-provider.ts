import { randomBytes } from "node:crypto";
import pg from "pg";
import { BadUsageError, PostgresFailedError, UnsafeDatabaseError } from "../errors.ts";
import { throwIfAborted } from "../lifecycle/index.ts";
import { isLoopback } from "./environment.ts";
import type { PostgresProvider, StartedPostgres, StartOptions } from "./provider.ts";

/** A connection URL with its password hidden, for messages. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = "***";
  return copy.href;
}

/** Parse a `postgres://` URL; bad input names the flag and the accepted form. */
export function parsePostgresUrl(value: string, where = "url"): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadUsageError(
      `${where}: ${JSON.stringify(value)} is not a URL; expected postgres://user[:password]@host[:port]/database`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new BadUsageError(
      `${where}: expected a postgres:// or postgresql:// URL, got ${url.protocol}//… in ${JSON.stringify(redactUrl(url))}`,
    );
  if (!url.hostname)
    throw new BadUsageError(`${where}: ${JSON.stringify(redactUrl(url))} names no host`);
  return url;
}

/** The host of a URL without IPv6 brackets, as `isLoopback` and `pg` expect it. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * The url provider's rule on remote hosts, for every command that connects to a URL the user
 * gives: a host off this machine is refused, before any connection, unless the user allowed
 * remote servers (--allow-remote, or database.allowRemote in the config). `why` says what
 * faultline would do there.
 */
export function refuseRemote(url: URL, allowRemote: boolean, why: string): void {
  const host = hostOf(url);
  if (!isLoopback(host) && !allowRemote)
    throw new UnsafeDatabaseError(
      `refusing Postgres at ${host} (${redactUrl(url)}): ${why}, so it only uses a server on this machine unless remote servers are allowed explicitly (--allow-remote, or database.allowRemote in the config)`,
    );
}

/**
 * A server that already runs (`url:postgres://…`). faultline never starts or stops it: it
 * creates its own databases there under a per-run prefix, drops those, and touches no other.
 * A host off this machine is refused unless `allowRemote`, before any connection is made.
 * There is no server log to read, so the proxy trace is the only record of server errors.
 */
export function urlPostgres(
  value: string,
  options: { allowRemote?: boolean; where?: string } = {},
): PostgresProvider {
  const url = parsePostgresUrl(value, options.where);
  refuseRemote(url, Boolean(options.allowRemote), "faultline creates and drops databases");
  return {
    name: "url",
    start: (startOptions) => startUrl(url, startOptions),
  };
}

async function startUrl(url: URL, options: StartOptions = {}): Promise<StartedPostgres> {
  throwIfAborted(options.signal);
  const started = new StartedUrlPostgres(url);
  const client = new pg.Client({
    connectionString: started.urlFor(url.pathname.slice(1) || "postgres"),
    application_name: "faultline",
    connectionTimeoutMillis: 10_000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string; cancreate: boolean }>(
      "SELECT current_setting('server_version') AS version, (rolsuper OR rolcreatedb) AS cancreate FROM pg_roles WHERE rolname = current_user",
    );
    const row = rows[0];
    if (!row?.cancreate)
      throw new PostgresFailedError(
        `Postgres at ${redactUrl(url)}: user ${client.user} may not CREATE DATABASE; faultline needs a role with CREATEDB (ALTER ROLE ${client.user} CREATEDB)`,
      );
    started.version = row.version;
  } catch (error) {
    if (error instanceof PostgresFailedError) throw error;
    throw new PostgresFailedError(
      `cannot reach Postgres at ${redactUrl(url)}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
  return started;
}

class StartedUrlPostgres implements StartedPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  version = "";
  readonly oracle = "proxy trace only";
  readonly databasePrefix = `faultline_${randomBytes(4).toString("hex")}_`;
  private readonly url: URL;
  private stopping: Promise<void> | undefined;

  constructor(url: URL) {
    this.url = url;
    this.host = hostOf(url);
    this.port = Number(url.port || 5432);
    this.user = decodeURIComponent(url.username) || process.env.PGUSER || "postgres";
  }

  urlFor(database: string): string {
    // Keep user, password and query (sslmode and the like); swap only the database.
    const copy = new URL(this.url.href);
    copy.pathname = `/${encodeURIComponent(database)}`;
    return copy.href;
  }

  /**
   * Leaves the server running; drops the databases this run created that are still there (a
   * scenario that crashed before its own drop), found by the run's prefix, never any other.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const client = new pg.Client({
        connectionString: this.urlFor(this.url.pathname.slice(1) || "postgres"),
        application_name: "faultline",
        connectionTimeoutMillis: 10_000,
      });
      client.on("error", () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
          [this.databasePrefix],
        );
        for (const { datname } of rows) {
          const name = pg.escapeIdentifier(datname);
          // A template cannot be dropped until it stops being one.
          await client.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
          await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        }
      } catch {
        // The server went away: nothing of ours is left to drop on it from here.
      } finally {
        await client.end().catch(() => {});
      }
    })();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
