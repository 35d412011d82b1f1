/** faultline.config.ts: the service, the schema, the Postgres and the routes of a user's project. */
export {
  type DatabaseConfig,
  defineConfig,
  type FaultlineConfig,
  type ServiceConfig,
  type ServiceEnvContext,
  type ServiceEnvInput,
} from "./define.ts";
export {
  CONFIG_FILE_NAMES,
  type ConfiguredSchema,
  findConfigFile,
  loadConfig,
  type ResolvedConfig,
} from "./load.ts";
