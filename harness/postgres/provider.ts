import type { ServerLog } from "./server-log.ts";

/** Options every Postgres provider accepts. */
export interface StartOptions {
  /** Where temp dirs go; defaults to the OS temp dir. */
  tmpRoot?: string;
  /** Aborts a start in progress (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Start from a data dir saved under this snapshot, if the provider keeps snapshots and has
   * one (see `StartedPostgres.restoredSnapshot`). Providers without the ability ignore it.
   */
  dataSnapshot?: DataSnapshot;
}

/** Names a saved data dir: `key` says what is in it, `slot` which source it belongs to. */
export interface DataSnapshot {
  /** The content's identity, e.g. the schema hash; the provider adds its own build and flags. */
  key: string;
  /** One entry per slot is kept: saving a new key replaces the slot's older entries. */
  slot: string;
}

/** A running Postgres server that faultline owns for the length of a run. */
export interface StartedPostgres extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** A superuser on this server. */
  readonly user: string;
  readonly version: string;
  /**
   * The server's own log, the oracle's source; absent when faultline cannot read it (a server
   * given by URL), and then the proxy trace is the only record of what the server said.
   */
  readonly serverLog?: ServerLog;
  /** Where errors are seen, for reports: "server log" or "proxy trace only". */
  readonly oracle: string;
  /**
   * Names of databases faultline creates here must start with this when set: a server shared
   * with others (url:) gets a per-run prefix, and stop() drops what still carries it.
   */
  readonly databasePrefix?: string;
  /** A connection URL for one database on this server. */
  urlFor(database: string): string;
  /** Optional: true when the server started from the `dataSnapshot` asked for. */
  readonly restoredSnapshot?: boolean;
  /** Optional: true when the slot held a snapshot under another key (the content changed). */
  readonly staleSnapshot?: boolean;
  /**
   * Optional: stop cleanly, save the data dir under `snapshot`, start again (possibly on another
   * port: call `urlFor` afterwards). Close every connection first.
   */
  saveSnapshot?(snapshot: DataSnapshot): Promise<void>;
  /** Stop the server and remove everything it wrote. Safe to call twice. */
  stop(): Promise<void>;
}

/** Something that can start (or reach) a Postgres server: embedded, container or URL. */
export interface PostgresProvider {
  readonly name: string;
  start(options?: StartOptions): Promise<StartedPostgres>;
}
