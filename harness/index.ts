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
export * from "./gate/index.ts";
export { formatInitReport, type InitReport, initProject } from "./init/index.ts";
export { exportK6Script, type K6ExportOptions } from "./k6/index.ts";
export {
  type LoadOptions,
  type LoadResult,
  parseDuration,
  parseRate,
  parseThreshold,
  runLoad,
} from "./load/index.ts";
export {
  containerPostgres,
  DEFAULT_MIGRATIONS_DIR,
  type EnvironmentOptions,
  embeddedPostgres,
  embeddedPostgresOf,
  fetchPostgresMajor,
  type LoadedSchema,
  loadSchema,
  type PostgresProvider,
  type RunEnvironment,
  resolvePostgresProvider,
  type SchemaSource,
  type StartedPostgres,
  startEnvironment,
  urlPostgres,
} from "./postgres/index.ts";
export {
  type HtmlReportInput,
  type HtmlReportSide,
  type LatencyPoint,
  toHtmlReport,
} from "./report/index.ts";
export * from "./scenario/index.ts";
export { bundledServices, resolveService, type ServiceSpec } from "./service/index.ts";
export * from "./suite/index.ts";
export { stripeProvider, type WebhookProvider, webhookProviders } from "./webhooks/index.ts";
