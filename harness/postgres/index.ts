/** Postgres for a run: providers, template clones, schema drift and the server-log oracle. */

// freePort lives with the lifecycle now; re-exported here for the callers that found it here.
export { freePort } from "../lifecycle/index.ts";
export { diffSchemaShapes, readSchemaShape, type SchemaShape } from "./catalog.ts";
export {
  CONTAINER_LABEL,
  containerPostgres,
  DEFAULT_POSTGRES_IMAGE,
} from "./container-provider.ts";
export {
  Databases,
  DriftFailedError,
  type MigrateWithService,
  type ScenarioDatabase,
} from "./databases.ts";
export {
  type DriftStep,
  describeDrift,
  driftSql,
  migrationCount,
  migrationsUpTo,
  UnknownMigrationError,
} from "./drift.ts";
export { embeddedPostgres, embeddedPostgresOf } from "./embedded-provider.ts";
export {
  DEFAULT_MIGRATIONS_DIR,
  type EnvironmentOptions,
  isLoopback,
  type RunEnvironment,
  startEnvironment,
} from "./environment.ts";
export type { Migration } from "./migrations.ts";
export { type RunAs, resolveRunAs } from "./os-user.ts";
export {
  fetchPostgresMajor,
  POSTGRES_MAJORS,
  postgresCacheDir,
} from "./postgres-majors.ts";
export type {
  DataSnapshot,
  PostgresProvider,
  StartedPostgres,
  StartOptions,
} from "./provider.ts";
export { POSTGRES_SPEC_FORMS, resolvePostgresProvider } from "./providers.ts";
export {
  type LoadedSchema,
  loadMigrations,
  loadSchema,
  type SchemaSource,
} from "./schema-source.ts";
export {
  formatServerError,
  type ServerError,
  ServerLog,
  type ServerLogEntry,
} from "./server-log.ts";
export { describeSqlstate } from "./sqlstates.ts";
export { parsePostgresUrl, redactUrl, refuseRemote, urlPostgres } from "./url-provider.ts";
