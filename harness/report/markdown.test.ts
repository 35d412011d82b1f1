import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { InvariantResult, ScenarioResult } from "../scenario/index.ts";
import {
  escapeMarkdown,
  markdownSummaryReporter,
  markdownTable,
  toMarkdownSummary,
} from "./markdown.ts";
import { failedResult, summaryOf } from "./sample-results.ts";

const failed = failedResult(
  [
    'ERROR 42703: column "credits_balance" does not exist',
    "ERROR 25P02: current transaction is aborted",
    "ERROR 25P02: again",
    "ERROR 25P02: and again",
  ],
  {
    file: "scenarios/credits-balance-missing.scenario.ts",
    name: "credits-balance-missing",
    durationMs: 523,
    seed: 20261127,
    serverErrorCount: 6,
    sqlstates: { "42703": 1, "25P02": 5 },
  },
);
failed.invariants[0] = {
  ...(failed.invariants[0] as InvariantResult),
  seen: "5 × 25P02 in 1 session(s)",
};
failed.invariants.push({
  name: "processingContinues",
  passed: false,
  expected: "2xx",
  seen: "500",
  evidence: [],
});
const passed: ScenarioResult = {
  ...failed,
  name: "credits-balance-present",
  file: "scenarios/credits-balance-present.scenario.ts",
  verdict: "pass",
  durationMs: 410,
  invariants: [],
  sqlstates: {},
};
const summary = (results: ScenarioResult[]) => summaryOf(results, { setupMs: 900, totalMs: 1930 });

describe("toMarkdownSummary", () => {
  it("a headline, a table, and each failure's evidence folded with its seed and replay line", () => {
    const text = toMarkdownSummary(summary([passed, failed]));
    const lines = text.split("\n");
    expect(lines[0]).toBe("### ❌ faultline: 1 failed, 1 passed in 1.93s · seed `20261127`");
    expect(lines.slice(2, 6)).toEqual([
      "| scenario | verdict | time | SQLSTATEs | violated |",
      "| --- | --- | --- | --- | --- |",
      "| credits-balance-missing | ❌ fail | 0.52s | `25P02` ×5, `42703` ×1 | noCascade, processingContinues |",
      "| credits-balance-present | ✅ pass | 0.41s | — | — |",
    ]);
    expect(text).toContain(
      "<details><summary>❌ credits-balance-missing: noCascade, processingContinues</summary>\n\n```text\n✗ noCascade: expected no 25P02; seen 5 × 25P02 in 1 session(s)\n    ERROR 42703",
    );
    expect(text).toContain("    … 1 more\n✗ processingContinues: expected 2xx; seen 500\n```");
    expect(text).not.toContain("and again");
    expect(text).toContain(
      "seed `20261127` · replay: `npx faultline run scenarios/credits-balance-missing.scenario.ts --seed 20261127 --service payments:broken`",
    );
    expect(text.endsWith("</details>\n")).toBe(true);
  });

  it("all green is one ✅ line and the table; a cell is named, a command service quoted", () => {
    const green = toMarkdownSummary(summary([passed]));
    expect(green.split("\n")[0]).toBe("### ✅ faultline: 1 passed in 1.93s · seed `20261127`");
    expect(green).not.toContain("<details>");
    const cell: ScenarioResult = {
      ...failed,
      cell: { schema: "no users.credits_balance" },
      service: "PAYMENTS_VARIANT=broken node main.ts",
      seed: 3,
    };
    const text = toMarkdownSummary(summary([cell, { ...passed, seed: 4 }]));
    expect(text.split("\n")[0]).toBe("### ❌ faultline: 1 failed, 1 passed in 1.93s");
    expect(text).toContain(
      "| credits-balance-missing \\[schema: no users.credits\\_balance\\] | ❌ fail |",
    );
    expect(text).toContain("--seed 3 --service 'PAYMENTS_VARIANT=broken node main.ts'`");
  });

  it("keeps to one screen: failures first, the passes beyond 20 rows counted", () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ ...passed, name: `p${i}` }));
    const text = toMarkdownSummary(summary([...many, failed]));
    const rows = text.split("\n").filter((l) => l.startsWith("| "));
    expect(rows).toHaveLength(2 + 20);
    expect(rows[2]).toContain("credits-balance-missing");
    expect(rows.at(-1)).toBe("| … 12 more passed |  |  |  |  |");
  });

  it("an errored scenario shows its message, not an empty violation list", () => {
    const errored: ScenarioResult = {
      ...failed,
      verdict: "error",
      invariants: [],
      error: {
        code: "FL_SERVICE",
        message: "the service exited with code 1\nlast line",
        exitCode: 3,
      },
    };
    const text = toMarkdownSummary(summary([errored]));
    expect(text).toContain("### ❌ faultline: 1 errored, 0 passed");
    expect(text).toContain(
      "| ⚠️ error | 0.52s | `25P02` ×5, `42703` ×1 | the service exited with code 1 |",
    );
    expect(text).toContain("```text\nthe service exited with code 1\nlast line\n```");
  });
});

describe("Markdown helpers", () => {
  it("escapeMarkdown makes formatting and HTML literal", () => {
    expect(escapeMarkdown("a_b *c* `d` [e](f) <script> & ~x~ \\")).toBe(
      "a\\_b \\*c\\* \\`d\\` \\[e\\](f) &lt;script&gt; &amp; \\~x\\~ \\\\",
    );
    expect(escapeMarkdown("# not a heading\n- not a list\n12. nor this")).toBe(
      "\\# not a heading\n\\- not a list\n12\\. nor this",
    );
    expect(escapeMarkdown("credits-balance-missing 1.5s")).toBe("credits-balance-missing 1.5s");
  });

  it("markdownTable keeps pipes and newlines inside their cell", () => {
    expect(markdownTable(["a", "b"], [["x|y", "line\nbreak"]])).toBe(
      "| a | b |\n| --- | --- |\n| x\\|y | line break |",
    );
  });
});

describe("markdownSummaryReporter", () => {
  it("appends to the file, keeping what other steps wrote", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "faultline-md-"));
    try {
      const file = path.join(dir, "step-summary.md");
      await writeFile(file, "## build\nok");
      const reporter = markdownSummaryReporter(file);
      await reporter.onRunEnd?.(summary([passed]));
      await reporter.onRunEnd?.(summary([failed]));
      const text = await readFile(file, "utf8");
      expect(text.startsWith("## build\nok\n### ✅ faultline: 1 passed")).toBe(true);
      expect(text).toContain("\n### ❌ faultline: 1 failed, 0 passed");
      const fresh = path.join(dir, "new", "summary.md");
      await markdownSummaryReporter(fresh).onRunEnd?.(summary([passed]));
      expect((await readFile(fresh, "utf8")).startsWith("### ✅")).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("toMarkdownSummary, many violations", () => {
  it("names the first three violated invariants and counts the rest", () => {
    const invariants = ["a", "b", "c", "d", "e"].map((name) => ({
      name,
      passed: false,
      expected: "x",
      seen: "y",
      evidence: [],
    }));
    const text = toMarkdownSummary(summary([{ ...failed, invariants }]));
    expect(text).toContain("| a, b, c, +2 more |");
    expect(text).toContain("<summary>❌ credits-balance-missing: a, b, c, +2 more</summary>");
    expect(text).toContain("✗ e: expected x; seen y");
  });
});
