/** `faultline gate`: prove a fix by running scenarios against the code before it and after it. */
export {
  type GateCell,
  type GateOptions,
  type GateOutcome,
  type GateScenario,
  type GateSummary,
  gateExitCode,
  runGate,
  scenarioOutcome,
} from "./gate.ts";
export {
  cellOk,
  formatGateScenario,
  formatGateTotals,
  invariantRows,
  sqlstateRows,
  toGateJson,
  toGateJunit,
  toGateMarkdown,
} from "./report.ts";
