/** faultline's public API: define and run scenarios from TypeScript. */
export {
  type DatabaseConfig,
  defineConfig,
  type FaultlineConfig,
  findConfigFile,
  loadConfig,
  type ResolvedConfig,
  type ServiceConfig,
  type ServiceEnvContext,
} from "./config/index.ts";
export * from "./errors.ts";
export {
  DEFAULT_MIGRATIONS_DIR,
  embeddedPostgres,
  type PostgresProvider,
  type RunEnvironment,
  type StartedPostgres,
  startEnvironment,
} from "./postgres/index.ts";
export * from "./scenario/index.ts";
export { bundledServices, resolveService, type ServiceSpec } from "./service/index.ts";
export { stripeProvider, type WebhookProvider, webhookProviders } from "./webhooks/index.ts";
