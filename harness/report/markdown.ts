import { appendFile, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { formatDisagreements, type RunSummary, type ScenarioResult } from "../scenario/index.ts";
import type { Reporter } from "./reporter.ts";
import { testName } from "./test-name.ts";

// One screen: a table longer than this lists the failures and counts the rest.
const MAX_ROWS = 20;
// Failures shown with their evidence; the rest are in the table, the JSON and the JUnit.
const MAX_DETAILS = 5;
const EVIDENCE_LINES = 3;
const DETAIL_LINES = 12;

/**
 * Raw text made literal in Markdown: characters that start inline formatting are
 * backslash-escaped, `<`, `>` and `&` become entities so no HTML gets through, and a line that
 * would open a heading, list or rule is escaped at its start. Pipes and newlines are left to
 * {@link markdownTable}.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_[\]~]/g, (c) => `\\${c}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/^(\s*)([#+=-])/gm, "$1\\$2")
    .replace(/^(\s*\d+)([.)])/gm, "$1\\$2");
}

// Table cells end at a newline and a pipe splits them, even inside a code span.
function tableCell(markdown: string): string {
  return markdown.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

/** A GitHub-flavoured Markdown table; cells are Markdown (escape raw text with escapeMarkdown). */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(tableCell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A code span that no backtick run in `text` can close early. */
function inlineCode(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

/** A fenced code block that no backtick run in `text` can close early. */
function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** Words a shell passes through unchanged; anything else is single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** The command line that runs one result again: the same file, seed and service. */
export function defaultReplayCommand(result: ScenarioResult): string {
  return [
    "npx faultline run",
    shellWord(result.file),
    "--seed",
    String(result.seed),
    "--service",
    shellWord(result.service),
  ].join(" ");
}

const VERDICT = { pass: "✅ pass", fail: "❌ fail", error: "⚠️ error" } as const;

function sqlstateCounts(result: ScenarioResult): string {
  const entries = Object.entries(result.sqlstates ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length ? entries.map(([code, n]) => `\`${code}\` ×${n}`).join(", ") : "—";
}

// A table row and a <summary> line each stay one line on a laptop screen.
const MAX_NAMES = 3;

/** The first violated invariants' names, each through `format`, and how many more there are. */
function violatedNames(result: ScenarioResult, format = (name: string) => name): string {
  const names = result.invariants.filter((r) => !r.passed).map((r) => r.name);
  const shown = names.slice(0, MAX_NAMES).map(format);
  if (names.length > MAX_NAMES) shown.push(`+${names.length - MAX_NAMES} more`);
  return shown.join(", ");
}

function whatWentWrong(result: ScenarioResult): string {
  if (result.error) return escapeMarkdown(result.error.message.split("\n")[0] ?? "");
  return violatedNames(result, escapeMarkdown) || "—";
}

function evidenceLines(result: ScenarioResult): string[] {
  if (result.error) return result.error.message.split("\n");
  const lines: string[] = [];
  if (result.serviceExit) lines.push(`! the service ${result.serviceExit.how} during the scenario`);
  for (const r of result.invariants.filter((i) => !i.passed)) {
    lines.push(`✗ ${r.name}: expected ${r.expected}; seen ${r.seen}`);
    for (const e of r.evidence.slice(0, EVIDENCE_LINES)) lines.push(`    ${e}`);
    if (r.evidence.length > EVIDENCE_LINES)
      lines.push(`    … ${r.evidence.length - EVIDENCE_LINES} more`);
  }
  return lines;
}

/** How the summary names its replay lines. */
export interface MarkdownSummaryOptions {
  /** The command line that runs a result again (default: `npx faultline run FILE --seed N --service S`). */
  replayCommand?: (result: ScenarioResult) => string;
}

/**
 * A one-screen Markdown summary of a run, fit for `$GITHUB_STEP_SUMMARY`: a headline with the
 * counts, a table (scenario or cell, verdict, time, SQLSTATEs, violated invariants), then each
 * failure's first evidence lines in a collapsed `<details>` with its seed and replay command.
 */
export function toMarkdownSummary(
  summary: RunSummary,
  options: MarkdownSummaryOptions = {},
): string {
  const replay = options.replayCommand ?? defaultReplayCommand;
  const { results } = summary;
  const count = (v: ScenarioResult["verdict"]) => results.filter((r) => r.verdict === v).length;
  const bad = results.filter((r) => r.verdict !== "pass");
  const seeds = [...new Set(results.map((r) => r.seed))];
  const counts = [
    ...(count("fail") ? [`${count("fail")} failed`] : []),
    ...(count("error") ? [`${count("error")} errored`] : []),
    `${count("pass")} passed`,
  ].join(", ");
  const headline = `### ${bad.length || !results.length ? "❌" : "✅"} faultline: ${results.length ? counts : "no scenarios ran"} in ${(summary.totalMs / 1000).toFixed(2)}s${seeds.length === 1 ? ` · seed \`${seeds[0]}\`` : ""}`;
  const out = [headline, ""];
  if (results.length) {
    // Failures first, so a long run still shows them on the first screen.
    const ordered = [...bad, ...results.filter((r) => r.verdict === "pass")];
    const shown =
      ordered.length > MAX_ROWS ? ordered.slice(0, Math.max(bad.length, MAX_ROWS - 1)) : ordered;
    const rows = shown.map((r) => [
      escapeMarkdown(testName(r)),
      VERDICT[r.verdict],
      `${(r.durationMs / 1000).toFixed(2)}s`,
      sqlstateCounts(r),
      r.verdict === "pass" ? "—" : whatWentWrong(r),
    ]);
    if (shown.length < ordered.length)
      rows.push([`… ${ordered.length - shown.length} more passed`, "", "", "", ""]);
    out.push(markdownTable(["scenario", "verdict", "time", "SQLSTATEs", "violated"], rows), "");
  }
  for (const r of bad.slice(0, MAX_DETAILS)) {
    const lines = evidenceLines(r);
    const evidence = [
      ...lines.slice(0, DETAIL_LINES),
      ...(lines.length > DETAIL_LINES ? [`… ${lines.length - DETAIL_LINES} more lines`] : []),
    ].join("\n");
    out.push(
      `<details><summary>${escapeHtml(`${r.verdict === "fail" ? "❌" : "⚠️"} ${testName(r)}: ${r.error ? (r.error.message.split("\n")[0] ?? "") : violatedNames(r)}`)}</summary>`,
      "",
      codeBlock(evidence),
      "",
      `seed \`${r.seed}\` · replay: ${inlineCode(replay(r))}`,
      "",
      "</details>",
      "",
    );
  }
  if (bad.length > MAX_DETAILS)
    out.push(`… and ${bad.length - MAX_DETAILS} more failures: see the JSON or JUnit report.`, "");
  // Under any verdict: a verdict whose witnesses disagree cannot be taken at its word.
  for (const r of results)
    if (r.witnessDisagreements?.length)
      out.push(
        `> ⚠️ ${escapeMarkdown(testName(r))}: ${escapeMarkdown(formatDisagreements(r.witnessDisagreements))}`,
        "",
      );
  return `${out.join("\n").trimEnd()}\n`;
}

/**
 * Appends the run's Markdown summary to `file` when the run ends: GitHub's step summary file is
 * shared by every step of a job, so what others wrote stays.
 */
export function markdownSummaryReporter(
  file: string,
  options: MarkdownSummaryOptions = {},
): Reporter {
  return {
    async onRunEnd(summary) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      const size = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      await appendFile(file, `${size ? "\n" : ""}${toMarkdownSummary(summary, options)}`);
    },
  };
}
