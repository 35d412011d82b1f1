import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RunSummary, ScenarioResult } from "../scenario/index.ts";
import type { Reporter } from "./reporter.ts";

// XML 1.0 forbids most control characters even when escaped, so they are dropped.
function allowedInXml(char: string): boolean {
  const code = char.charCodeAt(0);
  return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

export function xml(text: string): string {
  return [...text]
    .filter(allowedInXml)
    .join("")
    .replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function testcase(result: ScenarioResult): string {
  const open = `    <testcase classname="faultline.${xml(result.service)}" name="${xml(result.name)}" file="${xml(result.file)}" time="${(result.durationMs / 1000).toFixed(3)}"`;
  if (result.verdict === "pass") return `${open}/>`;
  if (result.error) {
    return `${open}>\n      <error type="${xml(result.error.code)}" message="${xml(result.error.message.split("\n")[0] ?? "")}">${xml(result.error.message)}</error>\n    </testcase>`;
  }
  const violated = result.invariants.filter((r) => !r.passed);
  const body = violated
    .map((r) =>
      [
        `${r.name}: expected ${r.expected}; seen ${r.seen}`,
        ...r.evidence.map((e) => `  ${e}`),
      ].join("\n"),
    )
    .join("\n\n");
  return `${open}>\n      <failure type="InvariantViolated" message="${xml(`violated: ${violated.map((r) => r.name).join(", ")}`)}">${xml(body)}</failure>\n    </testcase>`;
}

/** JUnit XML as CI systems read it: one testcase per scenario. */
export function toJunitXml(summary: RunSummary): string {
  const failures = summary.results.filter((r) => r.verdict === "fail").length;
  const errors = summary.results.filter((r) => r.verdict === "error").length;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="faultline" tests="${summary.results.length}" failures="${failures}" errors="${errors}" time="${(summary.totalMs / 1000).toFixed(3)}">`,
    `  <testsuite name="faultline" tests="${summary.results.length}" failures="${failures}" errors="${errors}" time="${(summary.totalMs / 1000).toFixed(3)}">`,
    ...summary.results.map(testcase),
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}

/** Writes JUnit XML to `file` when the run ends. */
export function junitReporter(file: string): Reporter {
  return {
    async onRunEnd(summary) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      await writeFile(file, toJunitXml(summary));
    },
  };
}
