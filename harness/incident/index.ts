/** `faultline incident`: production's logs read back into the scenario that reproduces them. */
export {
  type EventMention,
  type LogError,
  parseLogTime,
  type ReadLog,
  readLog,
  UnrecognisedLogError,
} from "./log.ts";
export { type CompiledPrefix, compilePrefix, KNOWN_PREFIXES, PrefixError } from "./prefix.ts";
export {
  type Incident,
  type Missing,
  type Reconstruction,
  reconstruct,
  resolveMissing,
  type Shape,
  summarise,
  tablesOf,
} from "./reconstruct.ts";
export {
  type RecordedWebhook,
  type ScenarioOptions,
  statementPattern,
  type WrittenIncident,
  writeIncidentScenario,
} from "./scenario.ts";
export { sqlstateOfClass, sqlstateOfMessage } from "./sqlstate.ts";
