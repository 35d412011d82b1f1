import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import type { RunSummary, ScenarioResult } from "../scenario/index.ts";
import { formatScenarioResult } from "./console.ts";
import type { Reporter } from "./reporter.ts";
import { testName } from "./test-name.ts";

// XML 1.0's Char production: most C0 controls, lone surrogates and U+FFFE/U+FFFF are not
// allowed even as character references, so they are dropped.
function allowedInXml(char: string): boolean {
  const code = char.codePointAt(0) as number;
  return (
    code === 0x09 ||
    code === 0x0a ||
    code === 0x0d ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    code >= 0x10000
  );
}

/**
 * Text escaped for XML content or a quoted attribute; characters XML cannot hold are dropped.
 * CR is a reference because a parser would turn a literal one into LF.
 */
export function xml(text: string): string {
  return [...text]
    .filter(allowedInXml)
    .join("")
    .replace(/[<>&"'\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A parser turns a literal tab or newline inside an attribute into a space.
function attr(text: string): string {
  return xml(text).replace(/[\t\n]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What went wrong in one test case: `failure` (an assertion) or `error` (could not judge). */
export interface JunitOutcome {
  kind: "failure" | "error";
  /** A short class of problem, e.g. `InvariantViolated` or an error code. */
  type: string;
  /** One line. */
  message: string;
  /** The full story: expectations, what was seen, evidence. */
  text: string;
}

/** One JUnit test case: a scenario, or one cell of a scenario's matrix. */
export interface JunitTestCase {
  name: string;
  classname: string;
  /** In seconds. */
  time: number;
  /** Absent when it passed (the schemas allow one outcome element per case). */
  outcome?: JunitOutcome;
}

/** One JUnit test suite with everything the schemas require of it. */
export interface JunitSuite {
  name: string;
  /** When the suite started; written in UTC without a zone, as Ant's schema demands. */
  timestamp: Date;
  hostname: string;
  /** In seconds. */
  time: number;
  /** Name–value pairs such as the seed; names must not be empty. */
  properties: [string, string][];
  cases: JunitTestCase[];
  /** The suite's output; reporters show it beside the results. */
  systemOut: string;
  systemErr?: string;
}

function seconds(value: number): string {
  return value.toFixed(3);
}

function testcaseXml(c: JunitTestCase): string {
  const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="${seconds(c.time)}"`;
  if (!c.outcome) return `${open}/>`;
  const { kind, type, message, text } = c.outcome;
  return `${open}>\n      <${kind} type="${attr(type)}" message="${attr(message)}">${xml(text)}</${kind}>\n    </testcase>`;
}

/**
 * A JUnit document valid against both Jenkins' junit-10.xsd and Ant's (Windy Road) JUnit.xsd:
 * the strict one allows no attributes on `testsuites`, requires `package`, `id`, `timestamp`
 * and `hostname` on each suite, and the order properties, testcases, system-out, system-err.
 */
export function junitDocument(suites: JunitSuite[]): string {
  const lines = [`<?xml version="1.0" encoding="UTF-8"?>`, "<testsuites>"];
  suites.forEach((suite, id) => {
    const count = (kind: JunitOutcome["kind"]) =>
      suite.cases.filter((c) => c.outcome?.kind === kind).length;
    lines.push(
      `  <testsuite name="${attr(suite.name)}" package="${attr(suite.name)}" id="${id}" timestamp="${suite.timestamp.toISOString().slice(0, 19)}" hostname="${attr(suite.hostname || "localhost")}" tests="${suite.cases.length}" failures="${count("failure")}" errors="${count("error")}" skipped="0" time="${seconds(suite.time)}">`,
      "    <properties>",
      ...suite.properties.map(
        ([name, value]) => `      <property name="${attr(name)}" value="${attr(value)}"/>`,
      ),
      "    </properties>",
      ...suite.cases.map(testcaseXml),
      `    <system-out>${xml(suite.systemOut)}</system-out>`,
      `    <system-err>${xml(suite.systemErr ?? "")}</system-err>`,
      "  </testsuite>",
    );
  });
  lines.push("</testsuites>", "");
  return lines.join("\n");
}

function outcomeOf(result: ScenarioResult): JunitOutcome | undefined {
  if (result.verdict === "pass") return undefined;
  const where = `${result.file}, seed ${result.seed}, service ${result.service}`;
  if (result.error) {
    return {
      kind: "error",
      type: result.error.code,
      message: result.error.message.split("\n")[0] ?? "",
      text: `${result.error.message}\n\n${where}`,
    };
  }
  const violated = result.invariants.filter((r) => !r.passed);
  const died = result.serviceExit
    ? [
        `the service ${result.serviceExit.how} during the scenario; its last lines:`,
        ...result.serviceExit.output.map((l) => `  ${l}`),
        "",
      ]
    : [];
  return {
    kind: "failure",
    type: "InvariantViolated",
    message: `violated: ${violated.map((r) => r.name).join(", ")}`,
    text: [
      ...died,
      ...violated.flatMap((r) => [
        `${r.name}: expected ${r.expected}; seen ${r.seen}`,
        ...r.evidence.map((e) => `  ${e}`),
        "",
      ]),
      where,
    ].join("\n"),
  };
}

/** Where and when a run's JUnit says it ran (injected so the XML is a pure function). */
export interface JunitContext {
  timestamp?: Date;
  hostname?: string;
}

/**
 * JUnit XML as CI systems read it: one testcase per scenario or matrix cell (the cell in its
 * name), failures carrying the violated invariants and their evidence, the seed in the
 * properties and the console's lines in system-out.
 */
export function toJunitXml(summary: RunSummary, context: JunitContext = {}): string {
  const { results } = summary;
  const seeds = new Set(results.map((r) => r.seed));
  const properties: [string, string][] =
    seeds.size === 1
      ? [["seed", String(results[0]?.seed)]]
      : results.map((r) => [`seed ${testName(r)}`, String(r.seed)]);
  const services = [...new Set(results.map((r) => r.service))];
  if (services.length) properties.push(["service", services.join(", ")]);
  properties.push(["exitCode", String(summary.exitCode)]);
  return junitDocument([
    {
      name: "faultline",
      timestamp: context.timestamp ?? new Date(Date.now() - summary.totalMs),
      hostname: context.hostname ?? hostname(),
      time: summary.totalMs / 1000,
      properties,
      cases: results.map((r) => ({
        name: testName(r),
        classname: `faultline.${r.service}`,
        time: r.durationMs / 1000,
        ...(r.verdict === "pass" ? {} : { outcome: outcomeOf(r) }),
      })),
      systemOut: results.map((r) => `${formatScenarioResult(r)}\n`).join(""),
    },
  ]);
}

/** Writes JUnit XML to `file` when the run ends. */
export function junitReporter(file: string): Reporter {
  let startedAt: Date | undefined;
  return {
    onRunStart() {
      startedAt = new Date();
    },
    async onRunEnd(summary) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      await writeFile(file, toJunitXml(summary, startedAt ? { timestamp: startedAt } : {}));
    },
  };
}
