/** Reporters: console lines, a JSON file, JUnit XML. */
export { consoleReporter, formatScenarioResult } from "./console.ts";
export { jsonReporter, toJsonReport } from "./json.ts";
export { junitReporter, toJunitXml, xml } from "./junit.ts";
export type { Reporter, RunStartInfo } from "./reporter.ts";
export { writeReportFile } from "./write.ts";
