import { describe, expect, it } from "vitest";
import { validateJunit } from "../../test/junit-schema.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import { junitDocument, toJunitXml } from "./junit.ts";
import { failedResult, summaryOf } from "./sample-results.ts";

const failed = failedResult(["ERROR 25P02: <current> & \u0001aborted ]]> \"quoted\" 'single'"]);

const context = { timestamp: new Date("2026-11-28T06:50:01.234Z"), hostname: "ci-runner-7" };

const summary = (results: ScenarioResult[]) => summaryOf(results);

describe("toJunitXml", () => {
  it("escapes evidence, drops what XML cannot hold, and validates against both schemas", async () => {
    const xml = toJunitXml(
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
    expect(await validateJunit(xml)).toEqual([]);
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

  it("names each matrix cell as its own testcase and keeps each cell's seed when they differ", async () => {
    const cell = (schema: string, seed: number, verdict: ScenarioResult["verdict"]) => ({
      ...failed,
      name: "credits-balance",
      cell: { schema, delivery: "shuffled" },
      seed,
      verdict,
    });
    const xml = toJunitXml(
      summary([cell("no users.credits_balance", 1, "fail"), cell("as migrated", 2, "pass")]),
      context,
    );
    expect(await validateJunit(xml)).toEqual([]);
    expect(xml).toContain(
      'name="credits-balance [schema: no users.credits_balance, delivery: shuffled]"',
    );
    expect(xml).toContain('name="credits-balance [schema: as migrated, delivery: shuffled]"');
    expect(xml).toContain(
      '<property name="seed credits-balance [schema: as migrated, delivery: shuffled]" value="2"/>',
    );
  });

  it("an empty run is still a valid document", async () => {
    expect(await validateJunit(toJunitXml(summary([]), context))).toEqual([]);
  });
});

describe("validateJunit", () => {
  it("reports what the schemas reject, naming the schema and the line", async () => {
    const errors = await validateJunit(
      '<?xml version="1.0"?>\n<testsuites tests="1">\n  <testsuite name="x" tests="1" failures="0" errors="0">\n    <testcase name="t" file="a.ts"/>\n  </testsuite>\n</testsuites>\n',
    );
    expect(errors).toContain(
      "jenkins-junit-10.xsd: report.xml:4: Schemas validity error : Element 'testcase', attribute 'file': The attribute 'file' is not allowed.",
    );
    expect(errors.some((e) => e.startsWith("windyroad-JUnit.xsd: report.xml:3:"))).toBe(true);
    expect((await validateJunit("<testsuites><oops></testsuites>")).length).toBeGreaterThan(0);
  });

  it("accepts a document of several suites built with junitDocument", async () => {
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
    const xml = junitDocument([suite("baseline"), suite("candidate")]);
    expect(await validateJunit(xml)).toEqual([]);
    expect(xml).toContain('id="1"');
    expect(xml).toContain('hostname="localhost"');
  });
});
