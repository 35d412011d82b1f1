/** Reporters: console lines, a JSON file, JUnit XML, a Markdown summary, an HTML page. */
export { type ConsoleOptions, colourFor, styler } from "../terminal/index.ts";
export { consoleReporter, formatScenarioResult } from "./console.ts";
export {
  type HtmlLoadSummary,
  type HtmlReportInput,
  type HtmlReportSide,
  htmlReporter,
  type LatencyPoint,
  loadSummaryOf,
  toHtmlReport,
} from "./html.ts";
export { jsonReporter, toJsonReport } from "./json.ts";
export {
  type JunitContext,
  type JunitOutcome,
  type JunitSuite,
  type JunitTestCase,
  junitDocument,
  junitReporter,
  toJunitXml,
  xml,
} from "./junit.ts";
export {
  defaultReplayCommand,
  escapeMarkdown,
  type MarkdownSummaryOptions,
  markdownSummaryReporter,
  markdownTable,
  shellWord,
  toMarkdownSummary,
} from "./markdown.ts";
export type { Reporter, RunStartInfo } from "./reporter.ts";
export { testName } from "./test-name.ts";
export { writeReportFile } from "./write.ts";
