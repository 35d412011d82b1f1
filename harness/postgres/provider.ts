import type { ServerLog } from "./server-log.ts";

/** Options every Postgres provider accepts. */
export interface StartOptions {
  /** Where temp dirs go; defaults to the OS temp dir. */
  tmpRoot?: string;
  /** Aborts a start in progress (Ctrl-C). */
  signal?: AbortSignal;
}

/** A running Postgres server that faultline owns for the length of a run. */
export interface StartedPostgres extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** A superuser on this server. */
  readonly user: string;
  readonly version: string;
  /** The server's own log: the oracle's source. */
  readonly serverLog: ServerLog;
  /** A connection URL for one database on this server. */
  urlFor(database: string): string;
  /** Stop the server and remove everything it wrote. Safe to call twice. */
  stop(): Promise<void>;
}

/** Something that can start a Postgres server: embedded today, container and URL later. */
export interface PostgresProvider {
  readonly name: string;
  start(options?: StartOptions): Promise<StartedPostgres>;
}
