import { describe, expect, it } from "vitest";
import { JUNIT_SCHEMA_FILES, validateJunit } from "../../test/junit-schema.ts";
import { describeSharedData } from "../../test/shared-data.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import { junitDocument, toJunitXml } from "./junit.ts";
import { failedResult, summaryOf } from "./sample-results.ts";

const failed = failedResult(["ERROR 25P02: <current> & \u0001aborted ]]> \"quoted\" 'single'"]);

const context = { timestamp: new Date("2026-11-28T06:50:01.234Z"), hostname: "ci-runner-7" };

const summary = (results: ScenarioResult[]) => summaryOf(results);

/** A failure, a pass and an error whose texts hold everything XML must escape or drop. */
const escaping = () =>
  toJunitXml(
    summary([
      failed,
      { ...failed, name: "b", verdict: "pass" },
      {
        ...failed,
        name: "c",
        verdict: "error",
        invariants: [],
        error: {
          code: "FL_SERVICE",
          message: "service died\n\tline 2\r\nlast \uFFFE\uD800",
          exitCode: 3,
        },
      },
    ]),
    context,
  );

/** Two matrix cells of one scenario, with different seeds. */
const cells = () => {
  const cell = (schema: string, seed: number, verdict: ScenarioResult["verdict"]) => ({
    ...failed,
    name: "credits-balance",
    cell: { schema, delivery: "shuffled" },
    seed,
    verdict,
  });
  return toJunitXml(
    summary([cell("no users.credits_balance", 1, "fail"), cell("as migrated", 2, "pass")]),
    context,
  );
};

/** Two suites built with junitDocument, as the gate writes them. */
const severalSuites = () => {
  const suite = (name: string) => ({
    name,
    timestamp: context.timestamp,
    hostname: "",
    time: 0.5,
    properties: [["baseline", "payments:broken"]] as [string, string][],
    cases: [
      {
        name: "x",
        classname: "faultline.gate",
        time: 0.25,
        outcome: { kind: "failure" as const, type: "Gate", message: "regresses", text: "a\nb" },
      },
    ],
    systemOut: "",
  });
  return junitDocument([suite("baseline"), suite("candidate")]);
};

describe("toJunitXml", () => {
  it("escapes evidence and drops what XML cannot hold", () => {
    const xml = escaping();
    expect(xml).toContain('tests="3" failures="1" errors="1" skipped="0" time="2.500"');
    expect(xml).toContain('timestamp="2026-11-28T06:50:01" hostname="ci-runner-7"');
    expect(xml).toContain(
      "&#60;current&#62; &#38; aborted ]]&#62; &#34;quoted&#34; &#39;single&#39;",
    );
    expect(xml).toContain('<property name="seed" value="9"/>');
    expect(xml).toContain(
      '<testcase classname="faultline.payments:broken" name="b" time="1.234"/>',
    );
    expect(xml).toContain(
      '<error type="FL_SERVICE" message="service died">service died\n\tline 2&#13;\nlast \n\nscenarios/a.scenario.ts, seed 9, service payments:broken</error>',
    );
    for (const dropped of ["\u0001", "\uFFFE", "\uD800"]) expect(xml).not.toContain(dropped);
    // The console's lines, evidence included, are the suite's output.
    expect(xml).toMatch(
      /<system-out>FAIL {2}a {2}1\.23s [^\n]*violated: noCascade\n {4}✗ noCascade/,
    );
  });

  it("names each matrix cell as its own testcase and keeps each cell's seed when they differ", () => {
    const xml = cells();
    expect(xml).toContain(
      'name="credits-balance [schema: no users.credits_balance, delivery: shuffled]"',
    );
    expect(xml).toContain('name="credits-balance [schema: as migrated, delivery: shuffled]"');
    expect(xml).toContain(
      '<property name="seed credits-balance [schema: as migrated, delivery: shuffled]" value="2"/>',
    );
  });
});

describe("junitDocument", () => {
  it("numbers several suites and fills an empty hostname", () => {
    const xml = severalSuites();
    expect(xml).toContain('id="1"');
    expect(xml).toContain('hostname="localhost"');
  });
});

describeSharedData("JUnit XML against Jenkins' and Ant's schemas", JUNIT_SCHEMA_FILES, () => {
  it("escaped evidence, matrix cells, several suites and an empty run are all valid", async () => {
    expect(await validateJunit(escaping())).toEqual([]);
    expect(await validateJunit(cells())).toEqual([]);
    expect(await validateJunit(severalSuites())).toEqual([]);
    expect(await validateJunit(toJunitXml(summary([]), context))).toEqual([]);
  });

  it("validateJunit reports what the schemas reject, naming the schema and the line", async () => {
    const errors = await validateJunit(
      '<?xml version="1.0"?>\n<testsuites tests="1">\n  <testsuite name="x" tests="1" failures="0" errors="0">\n    <testcase name="t" file="a.ts"/>\n  </testsuite>\n</testsuites>\n',
    );
    expect(errors).toContain(
      "jenkins-junit-10.xsd: report.xml:4: Schemas validity error : Element 'testcase', attribute 'file': The attribute 'file' is not allowed.",
    );
    expect(errors.some((e) => e.startsWith("windyroad-JUnit.xsd: report.xml:3:"))).toBe(true);
    expect((await validateJunit("<testsuites><oops></testsuites>")).length).toBeGreaterThan(0);
  });
});
