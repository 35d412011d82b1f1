/** Scenarios: the typed format, loading and validation, the runner, and the invariants. */

export { importModule } from "./compile.ts";
export * from "./define.ts";
export { assertDriftKept, driftSnapshot } from "./drift-kept.ts";
export {
  evaluateSafely,
  type Invariant,
  type InvariantContext,
  type InvariantResult,
  type InvariantSpec,
  invariants,
  prepareSafely,
} from "./invariants/index.ts";
export {
  displayPath,
  findScenarioFiles,
  type LoadedScenario,
  loadScenario,
  validateScenario,
} from "./load.ts";
export {
  cellMatches,
  describeCell,
  expandMatrix,
  type ScenarioCell,
  withDeliveryPolicy,
} from "./matrix.ts";
export {
  concurrencyFor,
  defaultConcurrency,
  exitCodeOf,
  type Job,
  type JobOptions,
  provision as provisionDatabase,
  type RunOptions,
  type RunStartInfo,
  type RunSummary,
  runJobs,
  runScenarios,
  type ScenarioResult,
} from "./runner.ts";
export { formatIssues, type Scenario, type ScenarioInput, scenarioSchema } from "./schema.ts";
export { migrateByStartingService, perScenarioHost } from "./service-host.ts";
export {
  compareWitnesses,
  formatDisagreements,
  type WitnessDisagreement,
} from "./witnesses.ts";
export { freeScenarioPath, writeScenarioFile } from "./write.ts";
