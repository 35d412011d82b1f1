import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.ts";
import { JunitFiles } from "./junit-schema.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-reports-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const INCIDENT = "scenarios/credits-balance-missing.scenario.ts";
const junitFiles = new JunitFiles();

describe("the CI reports of a real run", () => {
  it("a failing run's JUnit carries the evidence (checked against the schemas below); --summary appends Markdown whose replay line reproduces the failure", async () => {
    const junit = path.join(dir, "reports", "broken.xml");
    const summary = path.join(dir, "step-summary.md");
    await writeFile(summary, "## Earlier step\n\nbuilt\n");
    const run = await runCli([
      "run",
      INCIDENT,
      "--service",
      "payments:broken",
      "--junit",
      junit,
      "--summary",
      summary,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);

    const xml = await readFile(junit, "utf8");
    junitFiles.add("a failing run", xml);
    expect(xml).toMatch(
      /<testcase classname="faultline.payments:broken" name="credits-balance-missing" time="\d+\.\d{3}">\n {6}<failure type="InvariantViolated" message="violated: noCascade, /,
    );
    expect(xml).toContain("noCascade: expected no 25P02 (in_failed_sql_transaction) errors");
    expect(xml).toContain('<property name="seed" value="20261127"/>');
    expect(xml).toMatch(/timestamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d" hostname="[^"]+"/);
    expect(xml).toMatch(/<system-out>FAIL {2}credits-balance-missing [^<]*ERROR 25P02/);

    const markdown = await readFile(summary, "utf8");
    expect(
      markdown.startsWith("## Earlier step\n\nbuilt\n\n### ❌ faultline: 1 failed, 0 passed in "),
    ).toBe(true);
    expect(markdown).toMatch(
      /\| credits-balance-missing \| ❌ fail \| \d+\.\d\ds \| [^|]*`25P02` ×\d+[^|]* \| noCascade, /,
    );
    expect(markdown).toContain("<details><summary>❌ credits-balance-missing: noCascade");
    // The run's own replay line: how it was started (here the repository's bin), then run.
    const replay = /replay: `node bin\/faultline\.mjs (run [^`]+)`/.exec(markdown)?.[1];
    expect(replay).toBe(`run ${INCIDENT} --service payments:broken --seed 20261127`);
    const again = await runCli((replay as string).split(" "));
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toContain("FAIL  credits-balance-missing");
  });

  it("a passing run writes JUnit too, and its summary is one green line and the table", async () => {
    const junit = path.join(dir, "fixed.xml");
    const summary = path.join(dir, "fixed.md");
    const run = await runCli(["run", INCIDENT, "--junit", junit, "--summary", summary]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    junitFiles.add("a passing run", await readFile(junit, "utf8"));
    const markdown = await readFile(summary, "utf8");
    expect(markdown).toMatch(/^### ✅ faultline: 1 passed in \d+\.\d\ds · seed `20261127`\n/);
    expect(markdown).not.toContain("<details>");
  });
});

junitFiles.describeValid("the runs' JUnit files against Jenkins' and Ant's schemas");
