import { describeSqlstate } from "../postgres/index.ts";
import { describeCell, type InvariantResult, type ScenarioResult } from "../scenario/index.ts";

/** What a matcher reads of vitest's (or Jest's) matcher state: whether `.not` was used. */
interface MatcherContext {
  isNot: boolean;
}

/** A matcher's answer in the shape `expect.extend` wants. */
interface MatcherOutcome {
  pass: boolean;
  message: () => string;
}

const IN_FAILED_SQL_TRANSACTION = "25P02";
/** Evidence lines shown per failing invariant: enough to see the cause, short enough to read. */
const EVIDENCE_LINES = 5;

/** The cells a received value holds: a `runScenario` result's `cells`, else the result itself. */
function cellsOf(received: unknown): ScenarioResult[] | string {
  const looksLikeResult = (value: unknown): value is ScenarioResult =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as ScenarioResult).verdict === "string" &&
    Array.isArray((value as ScenarioResult).invariants);
  if (!looksLikeResult(received)) {
    const shown =
      received === null ? "null" : typeof received === "object" ? "an object" : typeof received;
    return `expected the result of runScenario() (a ScenarioResult), got ${shown}; did you forget to await it?`;
  }
  const cells = (received as { cells?: unknown }).cells;
  return Array.isArray(cells) && cells.length && cells.every(looksLikeResult) ? cells : [received];
}

/** "credits-balance-missing (schema: no users.credits_balance)": the scenario and its cell. */
function cellName(result: ScenarioResult): string {
  return result.cell ? `${result.name} (${describeCell(result.cell)})` : result.name;
}

/** The replay hint: the CLI line when the scenario has a file, else the seed to pass back. */
function replayOf(result: ScenarioResult): string {
  if (result.replay) return `replay: ${result.replay}`;
  if (/\.(scenario\.)?[cm]?[jt]s$/.test(result.file))
    return `replay: npx faultline run ${result.file} --service ${result.service} --seed ${result.seed}`;
  return `replay: runScenario(scenario, { seed: ${result.seed} }) (a scenario value: save it as a .scenario.ts file to replay with npx faultline run)`;
}

function sqlstateCounts(result: ScenarioResult): string {
  // Most frequent first (an object lists integer-like keys such as "42703" first, whatever their count).
  const entries = Object.entries(result.sqlstates ?? {}).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
  return entries.length
    ? entries.map(([code, n]) => `${describeSqlstate(code)} × ${n}`).join(", ")
    : "none (no statement failed)";
}

function indent(lines: string[], by: string): string {
  return lines.map((line) => `${by}${line}`).join("\n");
}

/** A cell's header line: which scenario, which cell, which service, which seed. */
function heading(result: ScenarioResult): string {
  return `${cellName(result)} — ${result.service}, seed ${result.seed}, verdict ${result.verdict}`;
}

function evidenceLines(invariant: InvariantResult): string[] {
  const shown = invariant.evidence.slice(0, EVIDENCE_LINES);
  const more = invariant.evidence.length - shown.length;
  return more > 0 ? [...shown, `… and ${more} more`] : shown;
}

function describeInvariant(invariant: InvariantResult): string[] {
  const evidence = evidenceLines(invariant);
  return [
    `${invariant.passed ? "✓" : "✗"} ${invariant.name}`,
    `    expected: ${invariant.expected}`,
    `    seen: ${invariant.seen}`,
    ...(evidence.length ? ["    evidence:", ...evidence.map((line) => `      ${line}`)] : []),
  ];
}

/**
 * A cell that could not be judged, or a value that is not a result, fails with or without
 * `.not`: otherwise `.not` would turn "the service never started" into a pass.
 */
function unjudgeable(context: MatcherContext, message: string): MatcherOutcome {
  return { pass: context.isNot, message: () => message };
}

function erroredCell(cells: ScenarioResult[]): string | undefined {
  const errored = cells.find((cell) => cell.verdict === "error");
  if (!errored) return undefined;
  return `${heading(errored)}\ncould not be judged: ${errored.error?.message ?? "no error recorded"}`;
}

/** Whether a cell had a 25P02 cascade: in its proxy trace, or by its failed noCascade invariant. */
function cascadeIn(result: ScenarioResult): boolean {
  return (
    (result.sqlstates?.[IN_FAILED_SQL_TRANSACTION] ?? 0) > 0 ||
    result.invariants.some((i) => i.name === "noCascade" && !i.passed)
  );
}

function cascadeReport(result: ScenarioResult): string {
  const noCascade = result.invariants.find((i) => i.name === "noCascade");
  const first = noCascade && !noCascade.passed ? noCascade.evidence[0] : undefined;
  const lines = [`SQLSTATEs: ${sqlstateCounts(result)}`];
  if (first) lines.push(`first evidence: ${first}`);
  else if (!noCascade)
    lines.push("evidence: add noCascade() to the scenario's invariants for the server log's lines");
  lines.push(replayOf(result));
  return `${heading(result)}\n${indent(lines, "  ")}`;
}

/**
 * Passes when no cell of the scenario had a 25P02 (in_failed_sql_transaction) cascade. With
 * `.not`, passes when at least one cell had one.
 */
export function toHaveNoCascade(this: MatcherContext, received: unknown): MatcherOutcome {
  const cells = cellsOf(received);
  if (typeof cells === "string") return unjudgeable(this, cells);
  const errored = erroredCell(cells);
  if (errored) return unjudgeable(this, errored);
  const cascading = cells.filter(cascadeIn);
  const name = cells[0]?.name ?? "the scenario";
  const where = cells.length > 1 ? ` in ${cascading.length} of ${cells.length} cells` : "";
  if (cascading.length)
    return {
      pass: false,
      message: () =>
        `expected ${name} to have no 25P02 cascade (in_failed_sql_transaction), but it had one${where}:\n\n${cascading.map(cascadeReport).join("\n\n")}`,
    };
  return {
    pass: true,
    message: () =>
      `expected ${name} to have a 25P02 cascade (in_failed_sql_transaction), but ${cells.length > 1 ? "no cell" : "it"} had none:\n\n${cells.map(cascadeReport).join("\n\n")}`,
  };
}

/**
 * The invariants `name` means in a cell: the one with that exact name (`noCascade`,
 * `userResolved(known@example.com)`, a sql invariant's own name), else every one of that kind
 * (`userResolved` for `userResolved(…)`).
 */
function invariantsNamed(result: ScenarioResult, name: string): InvariantResult[] {
  const exact = result.invariants.filter((i) => i.name === name);
  if (exact.length) return exact;
  return result.invariants.filter((i) => i.name.startsWith(`${name}(`));
}

/**
 * Passes when the named invariant held in every cell that checks it. With `.not`, passes when
 * it failed in at least one. A name no cell checks fails either way, listing the names there are.
 */
export function toPassInvariant(
  this: MatcherContext,
  received: unknown,
  name: string,
): MatcherOutcome {
  if (typeof name !== "string" || name === "")
    return unjudgeable(
      this,
      `toPassInvariant(name): expected an invariant's name such as "noCascade", got ${JSON.stringify(name) ?? String(name)}`,
    );
  const cells = cellsOf(received);
  if (typeof cells === "string") return unjudgeable(this, cells);
  const errored = erroredCell(cells);
  if (errored) return unjudgeable(this, errored);
  const judged = cells
    .map((cell) => ({ cell, found: invariantsNamed(cell, name) }))
    .filter(({ found }) => found.length);
  const scenario = cells[0]?.name ?? "the scenario";
  if (judged.length === 0) {
    const present = [...new Set(cells.flatMap((cell) => cell.invariants.map((i) => i.name)))];
    return unjudgeable(
      this,
      `${scenario} has no invariant named ${JSON.stringify(name)}; it has: ${present.join(", ") || "none"}`,
    );
  }
  const report = ({ cell, found }: (typeof judged)[number]) =>
    `${heading(cell)}\n${indent([...found.flatMap(describeInvariant), replayOf(cell)], "  ")}`;
  const failing = judged.filter(({ found }) => found.some((i) => !i.passed));
  const where = cells.length > 1 ? ` in ${failing.length} of ${judged.length} cells` : "";
  if (failing.length)
    return {
      pass: false,
      message: () =>
        `expected invariant ${name} to pass in ${scenario}, but it failed${where}:\n\n${failing
          .map(({ cell, found }) => report({ cell, found: found.filter((i) => !i.passed) }))
          .join("\n\n")}`,
    };
  return {
    pass: true,
    message: () =>
      `expected invariant ${name} to fail in ${scenario}, but it passed${cells.length > 1 ? " in every cell" : ""}:\n\n${judged.map(report).join("\n\n")}`,
  };
}

/** The matchers, for `expect.extend(faultlineMatchers)`. */
export const faultlineMatchers = { toHaveNoCascade, toPassInvariant };

/** The matchers as they appear on `expect(result)`, for vitest's and Jest's type augmentation. */
export interface FaultlineMatchers<R = unknown> {
  /** No cell of the scenario had a 25P02 (in_failed_sql_transaction) cascade. */
  toHaveNoCascade(): R;
  /** The named invariant held in every cell that checks it. */
  toPassInvariant(name: string): R;
}
