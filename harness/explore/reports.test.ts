import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { JUNIT_SCHEMA_FILES, validateJunit } from "../../test/junit-schema.ts";
import { describeSharedData } from "../../test/shared-data.ts";
import { BadUsageError } from "../errors.ts";
import type { Candidate, ExploreReport } from "./explore.ts";
import { exploreHtml, exploreJunit, newHarmful, readBaselineReport } from "./reports.ts";

const SELECT =
  "SELECT id, credits_balance FROM users WHERE email = $1 AND note <> 'a&b' /* hint */";
const INSERT =
  "INSERT INTO credit_grants (user_id, credits) SELECT id, ? FROM users WHERE credits < 0 AND name = 'O''Brien & co' /* grant */";
const COLUMN = "public.users.credits_balance";

function candidate(
  id: number,
  scenario: string,
  kind: string,
  target: string,
  outcome: Candidate["outcome"],
  extra: Partial<Candidate> = {},
): Candidate {
  return { id, scenario, fault: { kind, target, rules: [], drift: [] }, outcome, ...extra };
}

const CASCADE =
  "noCascade: expected no 25P02 (in_failed_sql_transaction) errors in the server log; seen 5 × 25P02 in 1 session(s) after <42703> & more";

/** Two scenarios explored (one with harm, one without) and one that failed clean. */
function sampleReport(): ExploreReport {
  const harm = (file: string) => ({
    failed: ["noCascade", "processingContinues"],
    seen: CASCADE,
    file,
    webhooks: { kept: 1, of: 4 },
  });
  return {
    candidates: [
      candidate(1, "credits-balance-present", "drop-column", COLUMN, "harmful", {
        ...harm("faultline/found/credits-balance-present-drop-column-public-users.scenario.ts"),
      }),
      candidate(2, "credits-balance-present", "undefined-column", SELECT, "harmful", {
        ...harm("faultline/found/credits-balance-present-undefined-column-select.scenario.ts"),
      }),
      candidate(3, "credits-balance-present", "serialization-failure", SELECT, "failed safe", {
        failed: ["creditsApplied"],
        seen: "creditsApplied: expected 500 credits; seen 0",
      }),
      candidate(4, "credits-balance-present", "deadlock", INSERT, "survived", { failed: [] }),
      candidate(5, "credits-balance-present", "connection-cut", INSERT, "errored", {
        failed: [],
        seen: "the service did not start",
      }),
      candidate(6, "credits-balance-present", "unique-violation", INSERT, "harmful", {
        failed: ["acknowledgedWithoutEffect", "creditsApplied"],
        seen: "acknowledged without effect: creditsApplied: expected 500; seen 0",
      }),
      candidate(7, "credits-balance-present", "reply-lost", "COMMIT", "survived", { failed: [] }),
      candidate(8, "refund-flow", "deadlock", INSERT, "survived", { failed: [] }),
      candidate(9, "refund-flow", "undefined-column", SELECT, "failed safe", {
        failed: ["refundRecorded"],
      }),
    ],
    sites: 5,
    columns: 3,
    pruned: [{ reason: "a later occurrence of a statement in the same state", count: 2 }],
    failedClean: ["late-invoice: fails clean (fail: noCascade): fix that first; nothing explored"],
    notRun: 4,
    ms: 12_345,
  };
}

/** Parse `doc` as XML with libxml2 and evaluate an XPath expression on it. */
async function xpath(doc: string, expression: string): Promise<string> {
  const result = await validateXML({
    xml: { fileName: "doc.xml", contents: doc },
    // --format would drop whitespace-only text between elements, which the page's text keeps.
    normalization: "format",
    modifyArguments: (args) => [...args.filter((a) => a !== "--format"), "--xpath", expression],
  });
  if (!result.valid) throw new Error(result.errors.map((e) => e.rawMessage).join("\n"));
  return result.normalized.replace(/\n$/, "");
}

const JUNIT_OPTIONS = {
  command: "faultline explore scenarios --service payments:broken",
  hostname: "ci-runner-7",
  timestamp: new Date("2026-11-28T06:50:01.234Z"),
};

describe("exploreJunit", () => {
  const doc = exploreJunit(sampleReport(), JUNIT_OPTIONS);

  it("has a failure per harmful finding, a pass per harmless scenario, an error per clean failure", async () => {
    expect(await xpath(doc, "count(//testcase)")).toBe("5");
    expect(await xpath(doc, "count(//testcase/failure)")).toBe("3");
    expect(await xpath(doc, "count(//testcase/error)")).toBe("1");
    expect(await xpath(doc, "string(//testsuite/@failures)")).toBe("3");
    expect(await xpath(doc, "string(//testsuite/@errors)")).toBe("1");
    expect(await xpath(doc, "string(//testcase[not(*)]/@name)")).toBe(
      "explore refund-flow: 2 candidates, nothing harmful",
    );
    expect(await xpath(doc, "string(//testcase[error]/@classname)")).toBe(
      "faultline.explore.late-invoice",
    );
  });

  it("names the finding by kind, target and what was seen, SQL characters intact", async () => {
    const second = "//testcase[failure][2]";
    expect(await xpath(doc, `string(${second}/@classname)`)).toBe(
      "faultline.explore.credits-balance-present",
    );
    expect(await xpath(doc, `string(${second}/@name)`)).toBe(`undefined-column at ${SELECT}`);
    expect(await xpath(doc, `string(${second}/failure/@type)`)).toBe("noCascade");
    expect(await xpath(doc, `string(${second}/failure/@message)`)).toBe(
      `undefined-column at ${SELECT} → ${CASCADE}`,
    );
    const text = await xpath(doc, `string(${second}/failure)`);
    expect(text).toContain("failed: noCascade, processingContinues");
    expect(text).toContain(
      "written: faultline/found/credits-balance-present-undefined-column-select.scenario.ts",
    );
    expect(text).toContain("scenario: credits-balance-present");
    expect(text).toContain("webhooks kept: 1 of 4");
    expect(await xpath(doc, "string(//testcase[failure][3]/failure/@type)")).toBe(
      "acknowledgedWithoutEffect",
    );
  });
});

describeSharedData("explore JUnit against Jenkins' and Ant's schemas", JUNIT_SCHEMA_FILES, () => {
  it("a report with findings, and one with none, are valid", async () => {
    expect(await validateJunit(exploreJunit(sampleReport(), JUNIT_OPTIONS))).toEqual([]);
    const empty = { ...sampleReport(), candidates: [], failedClean: [] };
    expect(await validateJunit(exploreJunit(empty, { command: "faultline explore" }))).toEqual([]);
  });
});

describe("exploreHtml", () => {
  const report = sampleReport();
  const page = exploreHtml(report, { command: "faultline explore --faults 'a&b' <x>" });

  it("has one matrix cell per candidate, each linking to an evidence section on the page", async () => {
    expect(await xpath(page, "count(//table[@class='matrix']//a)")).toBe(
      String(report.candidates.length),
    );
    for (const c of report.candidates) {
      const cell = `//table[@class='matrix']//a[@href='#c${c.id}']`;
      expect(await xpath(page, `count(${cell})`)).toBe("1");
      expect(await xpath(page, `count(//*[@id='c${c.id}'])`)).toBe("1");
      expect(await xpath(page, `string(//*[@id='c${c.id}']/@class)`)).toBe("evidence");
      expect(await xpath(page, `string(${cell}/@class)`)).toBe(
        `cell o-${c.outcome?.replace(" ", "-")}`,
      );
      // The label says the outcome too: colour is not the only signal.
      expect(await xpath(page, `string(${cell})`)).toBe(
        c.outcome === "harmful" ? "HARMFUL" : c.outcome,
      );
    }
  });

  it("lays each scenario out as targets × kinds, empty where no candidate was", async () => {
    const first = "//section[@class='scenario'][1]//table";
    expect(await xpath(page, `count(${first}/tbody/tr)`)).toBe("4");
    expect(await xpath(page, `count(${first}/thead/tr/th)`)).toBe("8");
    expect(await xpath(page, `count(${first}//td)`)).toBe("28");
    expect(await xpath(page, `count(${first}//td[@class='empty'])`)).toBe("21");
    expect(await xpath(page, `string(${first}/tbody/tr[2]/th)`)).toBe(SELECT);
    expect(await xpath(page, `string(${first}/tbody/tr[3]/th)`)).toBe(INSERT);
  });

  it("escapes SQL, commands and evidence; lists the harmful findings before the matrices", async () => {
    expect(page).not.toContain("<> 'a&b'");
    expect(page).not.toContain("<x>");
    expect(await xpath(page, "string(//p[@class='command']/code)")).toBe(
      "faultline explore --faults 'a&b' <x>",
    );
    expect(await xpath(page, "string(//*[@id='c1']//dt[.='seen']/following-sibling::dd[1])")).toBe(
      CASCADE,
    );
    expect(await xpath(page, "count(//section[@class='harmful-findings']/following::table)")).toBe(
      "2",
    );
    expect(await xpath(page, "count(//section[@class='harmful-findings']//li/a)")).toBe("3");
    expect(await xpath(page, "string(//section[@class='harmful-findings']//li[2]/a)")).toBe(
      `undefined-column at ${SELECT} → ${CASCADE}`,
    );
  });

  it("shows the coverage: explored, not run, pruned, each outcome, wall time, clean failures", async () => {
    const figures = await xpath(page, "string(//ul[@class='figures'])");
    expect(figures).toContain("explored 9 of 13 candidate(s)");
    expect(figures).toContain("not run 4");
    expect(figures).toContain("pruned 2");
    expect(figures).toContain("HARMFUL 3");
    expect(figures).toContain("failed safe 2");
    expect(figures).toContain("survived 3");
    expect(figures).toContain("errored 1");
    expect(figures).toContain("wall time 12.3 s");
    expect(page).toContain("late-invoice: fails clean");
    expect(page).not.toMatch(/<(script|link|img)\b/);
  });
});

describe("baseline comparison", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-explore-reports-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, value: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
    return file;
  };
  const asJson = (report: ExploreReport) => ({ faultline: 1, command: "explore", ...report });

  it("reads the harmful findings of a --json report", async () => {
    const findings = await readBaselineReport(write("explore.json", asJson(sampleReport())));
    expect(findings.map((f) => [f.scenario, f.kind, f.target])).toEqual([
      ["credits-balance-present", "drop-column", COLUMN],
      ["credits-balance-present", "undefined-column", SELECT],
      ["credits-balance-present", "unique-violation", INSERT],
    ]);
    expect(findings[0]?.failed).toEqual(["noCascade", "processingContinues"]);
    expect(findings[0]?.file).toContain("drop-column");
  });

  it("sorts findings into added, known and fixed; one not run now is neither", async () => {
    const baseline = await readBaselineReport(write("before.json", asJson(sampleReport())));
    const now = sampleReport();
    now.candidates = [
      // drop-column: harmful before and now.
      candidate(1, "credits-balance-present", "drop-column", COLUMN, "harmful", { failed: ["x"] }),
      // undefined-column at SELECT: harmful before, survives now.
      candidate(2, "credits-balance-present", "undefined-column", SELECT, "survived"),
      // unique-violation at INSERT: harmful before, errored now: not judged, so not fixed.
      candidate(3, "credits-balance-present", "unique-violation", INSERT, "errored"),
      // Harmful now, failed safe before.
      candidate(4, "credits-balance-present", "serialization-failure", SELECT, "harmful"),
      // The same kind and target in another scenario is another finding.
      candidate(5, "refund-flow", "drop-column", COLUMN, "harmful"),
    ];
    const { added, known, fixed } = newHarmful(now, baseline);
    expect(added.map((c) => c.id)).toEqual([4, 5]);
    expect(known.map((c) => c.id)).toEqual([1]);
    expect(fixed.map((f) => f.kind)).toEqual(["undefined-column"]);

    // With the budget gone before it, a finding is not fixed either.
    now.candidates = now.candidates.filter((c) => c.id !== 2);
    expect(newHarmful(now, baseline).fixed).toEqual([]);
    // Nothing in the baseline: everything harmful is new.
    expect(newHarmful(now, []).added).toHaveLength(3);
  });

  const good = () => asJson(sampleReport()) as unknown as Record<string, unknown>;
  const withCandidate = (i: number, change: (c: Record<string, unknown>) => void) => {
    const report = good();
    change((report.candidates as Record<string, unknown>[])[i] as Record<string, unknown>);
    return report;
  };
  it.each([
    ["not JSON", "{ candidates: [", /: the baseline explore report is not JSON \(/],
    [
      "an array",
      [],
      /: \(top level\): expected an explore --json report \(an object\), found \[\]$/,
    ],
    ["another format", { ...good(), faultline: 2 }, /: faultline: expected 1, found 2$/],
    ["a run report", { ...good(), command: "run" }, /: command: expected "explore", found "run"$/],
    ["no candidates", { ...good(), candidates: undefined }, /: candidates: expected an array/],
    [
      "a kind not a string",
      withCandidate(3, (c) => {
        (c.fault as Record<string, unknown>).kind = 42;
      }),
      /: candidates\[3\]\.fault\.kind: expected a string, found 42$/,
    ],
    [
      "no fault",
      withCandidate(1, (c) => {
        c.fault = undefined;
      }),
      /: candidates\[1\]\.fault: expected an object, found nothing$/,
    ],
    [
      "no target",
      withCandidate(0, (c) => {
        (c.fault as Record<string, unknown>).target = undefined;
      }),
      /: candidates\[0\]\.fault\.target: expected a string, found nothing$/,
    ],
    [
      "an unknown outcome",
      withCandidate(2, (c) => {
        c.outcome = "harmfull";
      }),
      /: candidates\[2\]\.outcome: expected one of "harmful", "failed safe", "survived", "errored", found "harmfull"$/,
    ],
    [
      "a failed invariant not a string",
      withCandidate(0, (c) => {
        c.failed = ["noCascade", { name: "x" }];
      }),
      /: candidates\[0\]\.failed\[1\]: expected a string, found \{"name":"x"\}$/,
    ],
    [
      "a scenario not a string",
      withCandidate(4, (c) => {
        c.scenario = null;
      }),
      /: candidates\[4\]\.scenario: expected a string, found null$/,
    ],
  ])("names the file and the field for %s", async (_, content, message) => {
    const file = write("bad.json", content);
    const error = await readBaselineReport(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadUsageError);
    expect((error as BadUsageError).code).toBe("FL_BAD_USAGE");
    expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it("names a missing file", async () => {
    const file = path.join(dir, "missing.json");
    const error = await readBaselineReport(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadUsageError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read the baseline explore report \\(ENOENT`,
      ),
    );
  });
});
