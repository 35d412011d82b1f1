import type { ServiceEnvContext } from "../service/index.ts";

export type { ServiceEnvContext };

/** Extra environment for the service: fixed values, or values made from the run's. */
export type ServiceEnvInput =
  | Record<string, string | number | boolean>
  | ((context: ServiceEnvContext) => Record<string, string | number | boolean>);

/** The service under test, like Playwright's `webServer` block. */
export interface ServiceConfig {
  /** A shell command line (run with `sh -c` in `cwd`); it gets DATABASE_URL, PORT and STRIPE_WEBHOOK_SECRET. */
  command: string;
  /** Folder to run it in, relative to the config file (default: the config file's folder). */
  cwd?: string;
  /** Added to DATABASE_URL, PORT and STRIPE_WEBHOOK_SECRET (and the current environment). */
  env?: ServiceEnvInput;
  /** Ready when GET `path` answers with a status below 500, or exactly `status` when given. */
  ready?: { path?: string; status?: number };
  /** How long the service may take to become ready, in milliseconds (default 15000). */
  readyTimeout?: number;
  /** A command run once per run, before the first scenario (e.g. `npm run build`), in `cwd`. */
  build?: string;
  /**
   * `perScenario` (default) starts the service afresh for every scenario; `perRun` starts it once
   * and routes its connections to each scenario's database, for services slow to start.
   */
  restart?: "perScenario" | "perRun";
}

/** Where the schema comes from, and which Postgres to run it on. */
export interface DatabaseConfig {
  /** A folder of SQL migrations (plain, drizzle-kit, Prisma, Flyway, golang-migrate or dbmate). */
  migrations?: string;
  /**
   * A command that migrates the database named by DATABASE_URL (Alembic, Rails, Knex, …), or
   * `"service"`: the service migrates itself at start, so the template is built by starting it
   * once on the template database, waiting until it is ready, and stopping it.
   */
  migrate?: string;
  /**
   * With `migrate`: globs (relative to the config file) of what the migrations are made of,
   * which alone key the template cache. Default: the service's folder and the workspace
   * packages it depends on (installs and builds aside).
   */
  watch?: string[];
  /** A `pg_dump --schema-only` file. */
  schema?: string;
  /** `embedded` (default), `embedded:<major>`, `container[:image]` or `url:postgres://…`. */
  postgres?: string;
  /** Allow a `url:` server that is not on this machine's loopback. */
  allowRemote?: boolean;
}

/** A `faultline.config.ts` file's default export. */
export interface FaultlineConfig {
  service: ServiceConfig;
  database?: DatabaseConfig;
  /**
   * Per webhook provider (stripe, github, …): the path the service receives it on. Stripe also
   * takes `apiVersion`, the version its endpoint is pinned to (docs/scenarios.md).
   */
  webhooks?: Record<string, { path: string; apiVersion?: string }>;
  /** A folder of *.scenario.ts files, or glob patterns, relative to the config file. */
  scenarios?: string | string[];
}

/** Declare faultline's configuration; the value is validated when the CLI loads the file. */
export function defineConfig(config: FaultlineConfig): FaultlineConfig {
  return config;
}
