/**
 * faultline inside a team's own test suite: one scenario per call, with Postgres and the
 * migrated template started once per process and shared by every call.
 */
export {
  type RunScenarioOptions,
  runScenario,
  type ScenarioRun,
  type ServiceOption,
  stopEnvironments,
} from "./run-scenario.ts";
