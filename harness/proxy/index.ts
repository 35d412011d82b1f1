/** A fault-injecting Postgres wire-protocol proxy: framing, sessions, rules, faults, trace. */
export {
  createFault,
  type Fault,
  type FaultAction,
  faultPresets,
  faultSpecSchema,
  faultTypes,
} from "./faults/index.ts";
export { type Frame, MessageReader, ProtocolError } from "./framing.ts";
export {
  describeRuleIssues,
  type Fired,
  loadRulesFile,
  parseRulesFile,
  RuleSet,
  type RuleSpec,
  type RulesFile,
  ruleSchema,
  rulesFileSchema,
} from "./rules.ts";
export { type NextScenario, type ProxyOptions, type StartedProxy, startProxy } from "./server.ts";
export type { FaultEvent } from "./session.ts";
export { normaliseSql, rawSqlPattern, type StatementKind, statementKind } from "./statement.ts";
export { isError, readTrace, type TraceEntry, TraceWriter } from "./trace.ts";
