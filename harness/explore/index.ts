/** `faultline explore`: find the incident nobody wrote down — every statement × every fault kind. */
export {
  type Candidate,
  candidatesFor,
  classify,
  columnsOnPath,
  type ExploreOptions,
  type ExploreReport,
  explore,
  type Outcome,
  statementSites,
} from "./explore.ts";
export {
  type CandidateFault,
  FAULT_KIND_NAMES,
  FAULT_KINDS,
  type FaultKind,
  type StatementSite,
} from "./kinds.ts";
export {
  type BaselineComparison,
  type BaselineFinding,
  type ExploreHtmlOptions,
  type ExploreJunitOptions,
  exploreHtml,
  exploreJunit,
  inBaseline,
  newHarmful,
  readBaselineReport,
} from "./reports.ts";
