import { hostname } from "node:os";
import { describeSqlstate } from "../postgres/index.ts";
import {
  type JunitContext,
  type JunitOutcome,
  type JunitTestCase,
  junitDocument,
  testName,
} from "../report/index.ts";
import { describeCell, type ScenarioResult } from "../scenario/index.ts";
import type { GateCell, GateScenario, GateSummary } from "./gate.ts";

const EVIDENCE_LINES = 4;
const ERROR_TAIL_LINES = 8;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

function verdictOf(result: ScenarioResult): string {
  return result.verdict === "error" ? "ERROR" : result.verdict.toUpperCase();
}

/** Every SQLSTATE either side saw, with both counts: the seed's "before: N × 25P02, after: 0". */
export function sqlstateRows(
  cell: GateCell,
): { code: string; baseline: number; candidate: number }[] {
  const codes = new Set([
    ...Object.keys(cell.baseline.sqlstates),
    ...Object.keys(cell.candidate.sqlstates),
  ]);
  return [...codes]
    .map((code) => ({
      code,
      baseline: cell.baseline.sqlstates[code] ?? 0,
      candidate: cell.candidate.sqlstates[code] ?? 0,
    }))
    .sort(
      (a, b) =>
        b.baseline + b.candidate - (a.baseline + a.candidate) || a.code.localeCompare(b.code),
    );
}

/** Each invariant with its verdict on each side, in the scenario's order. */
export function invariantRows(
  cell: GateCell,
): { name: string; baseline: boolean | undefined; candidate: boolean | undefined }[] {
  const names = [...cell.baseline.invariants, ...cell.candidate.invariants].map((r) => r.name);
  return [...new Set(names)].map((name) => ({
    name,
    baseline: cell.baseline.invariants.find((r) => r.name === name)?.passed,
    candidate: cell.candidate.invariants.find((r) => r.name === name)?.passed,
  }));
}

function mark(passed: boolean | undefined): string {
  return passed === undefined ? "–" : passed ? "✓" : "✗";
}

function table(rows: string[][], indent: string): string[] {
  const widths =
    rows[0]?.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? "")].length))) ?? [];
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - [...c].length)))
        .join("   ")
        .trimEnd(),
  );
}

/** Why a side of a cell failed, briefly: its violated invariants with their first evidence. */
function failureLines(side: string, result: ScenarioResult): string[] {
  if (result.error) {
    // The head says what failed; the tail of the rest (a dying service's last output) says why.
    const [head, ...rest] = result.error.message.split("\n");
    const tail = rest.slice(-ERROR_TAIL_LINES);
    return [
      `      ${side}: ${head}`,
      ...(rest.length > tail.length
        ? [`          … ${rest.length - tail.length} earlier line(s) (see --json)`]
        : []),
      ...tail.map((l) => `          ${l}`),
    ];
  }
  const lines: string[] = [];
  if (result.serviceExit) lines.push(`      ${side}: the service ${result.serviceExit.how}`);
  for (const r of result.invariants.filter((i) => !i.passed)) {
    lines.push(`      ${side} ✗ ${r.name}: expected ${r.expected}; seen ${r.seen}`);
    for (const e of r.evidence.slice(0, EVIDENCE_LINES)) lines.push(`          ${e}`);
  }
  return lines;
}

/** One scenario of a gate for the console: the outcome, then each cell side by side. */
export function formatGateScenario(scenario: GateScenario): string {
  const lines = [
    `${scenario.ok ? "OK  " : "FAIL"} ${scenario.name}: ${scenario.outcome}${scenario.mustPassOnBaseline ? " (must pass on baseline)" : ""}  [${scenario.file}]`,
  ];
  for (const cell of scenario.cells) {
    const where = cell.cell ? describeCell(cell.cell) : "scenario";
    lines.push(
      `  ${where}: ${cell.outcome} — baseline ${verdictOf(cell.baseline)} ${seconds(cell.baseline.durationMs)}, candidate ${verdictOf(cell.candidate)} ${seconds(cell.candidate.durationMs)}; seed ${cell.candidate.seed}`,
    );
    const states = sqlstateRows(cell);
    if (states.length)
      lines.push(
        ...table(
          [
            ["SQLSTATE", "baseline", "candidate"],
            ...states.map((s) => [
              describeSqlstate(s.code),
              String(s.baseline),
              String(s.candidate),
            ]),
          ],
          "    ",
        ),
      );
    // The invariants that failed on either side; the rest passed on both (the JSON has all).
    const all = invariantRows(cell);
    const failing = all.filter((r) => r.baseline !== true || r.candidate !== true);
    if (failing.length)
      lines.push(
        ...table(
          [
            ["invariant", "baseline", "candidate"],
            ...failing.map((r) => [r.name, mark(r.baseline), mark(r.candidate)]),
          ],
          "    ",
        ),
      );
    if (failing.length < all.length)
      lines.push(
        `    ${failing.length ? "the other " : "all "}${all.length - failing.length} invariant(s) pass on both`,
      );
    // The baseline failing is the reproduction; what needs reading is a candidate that fails,
    // or a baseline that errored.
    if (cell.outcome !== "proves the fix") {
      if (cell.baseline.verdict === "error") lines.push(...failureLines("baseline", cell.baseline));
      if (cell.candidate.verdict !== "pass")
        lines.push(...failureLines("candidate", cell.candidate));
    }
  }
  return lines.join("\n");
}

/** The closing line: what each scenario showed, and what parallelism bought. */
export function formatGateTotals(summary: GateSummary): string {
  const count = (o: string) => summary.scenarios.filter((s) => s.outcome === o).length;
  const outcomes = [
    "proves the fix",
    "passes on both",
    "regresses",
    "not fixed",
    "does not reproduce",
    "error",
  ]
    .map((o) => [o, count(o)] as const)
    .filter(([, n]) => n > 0)
    .map(([o, n]) => `${n} ${o}`);
  const jobs = summary.scenarios.reduce((n, s) => n + s.cells.length * 2, 0);
  const wall = summary.totalMs - summary.setupMs;
  const speedup = wall > 0 ? summary.jobsMs / wall : 1;
  return [
    `gate: ${outcomes.join(", ") || "nothing ran"} — ${summary.exitCode === 0 ? "the change may merge" : "the change is not proven"}`,
    `${jobs} job(s) in ${seconds(summary.totalMs)} (Postgres and template ${seconds(summary.setupMs)}); ${summary.concurrency} at a time: ${seconds(summary.jobsMs)} of jobs in ${seconds(wall)}, ×${speedup.toFixed(1)} from parallelism`,
  ].join("\n");
}

/** The JSON report of a gate, versioned like run's. */
export function toGateJson(summary: GateSummary, extra: Record<string, unknown> = {}): object {
  return { faultline: 1, command: "gate", ...extra, ...summary };
}

/** Whether a cell lets the change through, given its scenario's outcome. */
export function cellOk(cell: GateCell, scenario: GateScenario): boolean {
  if (cell.outcome === "proves the fix" || cell.outcome === "passes on both") return true;
  // A cell both sides pass is, say, the backward-compatible half of a scenario: it fails only
  // when no cell of the scenario reproduces the incident.
  return cell.outcome === "does not reproduce" && scenario.outcome !== "does not reproduce";
}

function cellText(cell: GateCell): string {
  const lines = [
    `${cell.outcome}: baseline ${verdictOf(cell.baseline)}, candidate ${verdictOf(cell.candidate)}`,
  ];
  for (const s of sqlstateRows(cell))
    lines.push(`  ${describeSqlstate(s.code)}: baseline ${s.baseline}, candidate ${s.candidate}`);
  for (const [side, result] of [
    ["baseline", cell.baseline],
    ["candidate", cell.candidate],
  ] as const) {
    if (result.verdict === "pass") continue;
    lines.push(...failureLines(side, result).map((l) => l.trimStart()));
    if (result.replay) lines.push(`  replay: ${result.replay}`);
  }
  return lines.join("\n");
}

/**
 * JUnit XML for a gate, in the shape both JUnit schemas accept: one testcase per scenario cell,
 * judged on both sides, the SQLSTATEs and evidence in the failure, the console in system-out.
 */
export function toGateJunit(summary: GateSummary, context: JunitContext = {}): string {
  const cases: JunitTestCase[] = [];
  for (const scenario of summary.scenarios) {
    for (const cell of scenario.cells) {
      const text = `${cellText(cell)}\n\n${scenario.file}, seed ${cell.candidate.seed}`;
      const outcome: JunitOutcome | undefined =
        cell.outcome === "error"
          ? {
              kind: "error",
              type: (cell.candidate.error ?? cell.baseline.error)?.code ?? "error",
              message:
                ((cell.candidate.error ?? cell.baseline.error)?.message ?? "").split("\n")[0] ?? "",
              text,
            }
          : cellOk(cell, scenario)
            ? undefined
            : {
                kind: "failure",
                type: "Gate",
                message: `${cell.outcome} (baseline ${verdictOf(cell.baseline)}, candidate ${verdictOf(cell.candidate)})`,
                text,
              };
      cases.push({
        name: testName({ name: scenario.name, cell: cell.cell }),
        classname: "faultline.gate",
        time: (cell.baseline.durationMs + cell.candidate.durationMs) / 1000,
        ...(outcome ? { outcome } : {}),
      });
    }
  }
  return junitDocument([
    {
      name: "faultline gate",
      timestamp: context.timestamp ?? new Date(Date.now() - summary.totalMs),
      hostname: context.hostname ?? hostname(),
      time: summary.totalMs / 1000,
      properties: [
        ["baseline", summary.baseline],
        ["candidate", summary.candidate],
        ["seed", String(summary.seed)],
        ["exitCode", String(summary.exitCode)],
      ],
      cases,
      systemOut: [
        ...summary.scenarios.map((scenario) => formatGateScenario(scenario)),
        formatGateTotals(summary),
      ].join("\n"),
    },
  ]);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function cellMarkdown(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const OUTCOME_ICON: Record<string, string> = {
  "proves the fix": "✅",
  "passes on both": "✅",
  "does not reproduce": "⚠️",
  regresses: "❌",
  "not fixed": "❌",
  error: "💥",
};

/**
 * A one-screen Markdown summary of a gate, for $GITHUB_STEP_SUMMARY or a pull request comment:
 * the verdict, one table row per cell with the SQLSTATEs before → after, and the failing
 * sides' evidence folded away.
 */
export function toGateMarkdown(summary: GateSummary): string {
  const ok = summary.exitCode === 0;
  const lines = [
    `### faultline gate: ${ok ? "✅ the fix is proven" : "❌ the change is not proven"}`,
    "",
    `baseline \`${summary.baseline}\` → candidate \`${summary.candidate}\` · seed ${summary.seed} · ${seconds(summary.totalMs)}`,
    "",
    "| scenario | cell | outcome | baseline | candidate | SQLSTATEs (baseline → candidate) |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const details: string[] = [];
  for (const scenario of summary.scenarios) {
    for (const cell of scenario.cells) {
      const good = cellOk(cell, scenario);
      const states = sqlstateRows(cell)
        .map((s) => `${s.code} ${s.baseline} → ${s.candidate}`)
        .join(", ");
      lines.push(
        `| ${cellMarkdown(scenario.name)} | ${cellMarkdown(describeCell(cell.cell) || "–")} | ${good ? "✅" : (OUTCOME_ICON[cell.outcome] ?? "")} ${cell.outcome} | ${verdictOf(cell.baseline)} | ${verdictOf(cell.candidate)} | ${states || "none"} |`,
      );
      if (!good) {
        const name = testName({ name: scenario.name, cell: cell.cell });
        details.push(
          "",
          `<details><summary>${escapeHtml(name)}: ${cell.outcome}</summary>`,
          "",
          "```",
          cellText(cell).replace(/```/g, "'''"),
          "```",
          "</details>",
        );
      }
    }
  }
  return `${[...lines, ...details].join("\n")}\n`;
}
