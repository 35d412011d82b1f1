import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { BadUsageError } from "../errors.ts";
import { type JunitTestCase, junitDocument } from "../report/index.ts";
import type { Candidate, ExploreReport, Outcome } from "./explore.ts";

/** Each outcome as the page labels it; a Record, so a new outcome cannot go unlabelled. */
const LABEL: Record<Outcome, string> = {
  harmful: "HARMFUL",
  "failed safe": "failed safe",
  survived: "survived",
  errored: "errored",
};
const OUTCOMES = Object.keys(LABEL) as Outcome[];

const isOutcome = (value: unknown): value is Outcome => OUTCOMES.includes(value as Outcome);
const isHarmful = (c: Candidate) => c.outcome === "harmful";
const scenariosOf = (report: ExploreReport) => [
  ...new Set(report.candidates.map((c) => c.scenario)),
];
const ofScenario = (report: ExploreReport, scenario: string) =>
  report.candidates.filter((c) => c.scenario === scenario);
const countOf = (candidates: Candidate[], outcome: Outcome) =>
  candidates.filter((c) => c.outcome === outcome).length;

/** The one line a finding is known by: `kind at target → what was seen`. */
const findingLine = (c: Candidate) =>
  `${c.fault.kind} at ${c.fault.target} → ${c.seen ?? (c.failed?.join(", ") || c.outcome)}`;

const webhooksKept = (c: Candidate) =>
  c.webhooks ? `${c.webhooks.kept} of ${c.webhooks.of}` : undefined;

function summaryLine(report: ExploreReport): string {
  const ran = report.candidates;
  const pruned = report.pruned.reduce((n, p) => n + p.count, 0);
  const outcomes = OUTCOMES.map((o) => `${countOf(ran, o)} ${o}`).join(", ");
  return `explored ${ran.length} of ${ran.length + report.notRun} candidate(s) over ${report.sites} statement site(s) and ${report.columns} column(s) in ${(report.ms / 1000).toFixed(1)}s: ${outcomes}; ${pruned} pruned; ${report.notRun} not run`;
}

function harmfulCase(c: Candidate, name: string, command: string): JunitTestCase {
  const kept = webhooksKept(c);
  const text = [
    findingLine(c),
    `failed: ${c.failed?.join(", ") || "(none named)"}`,
    `scenario: ${c.scenario}`,
    c.file ? `written: ${c.file} (faultline run fails on it until the service is fixed)` : "",
    kept ? `webhooks kept: ${kept}` : "",
    c.confirmed === false ? "timing-dependent: not harmful again in a confirming run" : "",
    `found with: ${command}`,
  ];
  return {
    classname: `faultline.explore.${c.scenario}`,
    name,
    time: 0,
    outcome: {
      kind: "failure",
      type: c.failed?.[0] ?? "harmful",
      message: findingLine(c),
      text: text.filter(Boolean).join("\n"),
    },
  };
}

/** When and where the JUnit says explore ran; `timestamp` defaults to `ms` before now. */
export interface ExploreJunitOptions {
  command: string;
  hostname?: string;
  timestamp?: Date;
}

/**
 * JUnit XML of an explore: a failing test case per harmful finding, a passing one per scenario
 * explored with nothing harmful, an error per scenario that failed clean. Valid against
 * Jenkins' and Ant's schemas, as `toJunitXml` is.
 */
export function exploreJunit(report: ExploreReport, options: ExploreJunitOptions): string {
  const cases: JunitTestCase[] = [];
  for (const scenario of scenariosOf(report)) {
    const ran = ofScenario(report, scenario);
    const harmful = ran.filter(isHarmful);
    if (!harmful.length)
      cases.push({
        classname: `faultline.explore.${scenario}`,
        name: `explore ${scenario}: ${ran.length} candidates, nothing harmful`,
        time: 0,
      });
    // Two harmful candidates with one kind and target (a second fault on a retry) stay two cases.
    const names = new Set<string>();
    for (const c of harmful) {
      const base = `${c.fault.kind} at ${c.fault.target}`;
      const name = names.has(base) ? `${base} (#${c.id})` : base;
      names.add(base);
      cases.push(harmfulCase(c, name, options.command));
    }
  }
  for (const line of report.failedClean) {
    const scenario = /^(.*?): fails clean/.exec(line)?.[1];
    cases.push({
      classname: scenario ? `faultline.explore.${scenario}` : "faultline.explore",
      name: scenario ? `explore ${scenario}: fails clean` : line,
      time: 0,
      outcome: { kind: "error", type: "FailsClean", message: line, text: line },
    });
  }
  const properties: [string, string][] = [
    ["command", options.command],
    ["candidates", String(report.candidates.length)],
    ["notRun", String(report.notRun)],
  ];
  const out = [summaryLine(report), ...report.candidates.filter(isHarmful).map(findingLine)];
  return junitDocument([
    {
      name: "faultline explore",
      timestamp: options.timestamp ?? new Date(Date.now() - report.ms),
      hostname: options.hostname || hostname() || "localhost",
      time: report.ms / 1000,
      properties,
      cases,
      systemOut: out.join("\n"),
    },
  ]);
}

const html = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const outcomeClass = (outcome: unknown) =>
  isOutcome(outcome) ? `o-${outcome.replace(" ", "-")}` : "o-none";
const outcomeLabel = (outcome: unknown) => (isOutcome(outcome) ? LABEL[outcome] : "not judged");

const PAGE_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1f23}
code{font:12px/1.35 ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
ul.figures{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;list-style:none;padding:0}
table.matrix{border-collapse:collapse;margin:.5rem 0 1.5rem}
.matrix th,.matrix td{border:1px solid #c8ccd0;padding:3px;vertical-align:top}
.matrix th[scope=row]{text-align:left;max-width:48rem;font-weight:normal}
.matrix thead th{font-size:12px}
a.cell{display:block;padding:2px 6px;margin:1px 0;border-radius:3px;text-decoration:none;color:inherit;font-size:12px;white-space:nowrap;border:1px solid transparent}
.o-survived{background:#c9ebcd;border-color:#2e7d32}
.o-failed-safe{background:#ffe49a;border-color:#b7791f}
.o-harmful{background:#c62828;color:#fff;font-weight:bold}
a.o-harmful{color:#fff}
.o-errored{background:#d5d8dc;border-color:#78828a}
.o-none{background:#fff;border:1px dashed #78828a}
.badge{padding:1px 6px;border-radius:3px}
article.evidence{border-left:4px solid #c8ccd0;padding:.2rem .8rem;margin:.8rem 0}
article.evidence:target{outline:3px solid #1565c0;outline-offset:2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.3rem 0}
dt{color:#57606a}dd{margin:0}
`;

function evidenceHtml(c: Candidate): string {
  const row = (term: string, value: string | undefined) =>
    value ? `<dt>${term}</dt><dd>${value}</dd>` : "";
  const kept = webhooksKept(c);
  return `<article class="evidence" id="c${html(String(c.id))}">
<h3><span class="badge ${outcomeClass(c.outcome)}">${outcomeLabel(c.outcome)}</span> #${html(String(c.id))} ${html(c.fault.kind)} at <code>${html(c.fault.target)}</code></h3>
<dl>${row("scenario", html(c.scenario))}${row("outcome", outcomeLabel(c.outcome))}${row("failed invariants", c.failed?.length ? html(c.failed.join(", ")) : undefined)}${row("seen", c.seen && `<code>${html(c.seen)}</code>`)}${row("written", c.file && `<code>${html(c.file)}</code>`)}${row("webhooks kept", kept && html(kept))}${row("timing-dependent", c.confirmed === false ? "not harmful again in a confirming run" : undefined)}</dl>
</article>`;
}

function matrixHtml(scenario: string, candidates: Candidate[]): string {
  const kinds = [...new Set(candidates.map((c) => c.fault.kind))];
  const targets = [...new Set(candidates.map((c) => c.fault.target))];
  const cell = (c: Candidate) =>
    `<a class="cell ${outcomeClass(c.outcome)}" href="#c${html(String(c.id))}" title="${html(`#${c.id} ${c.fault.kind} at ${c.fault.target}: ${outcomeLabel(c.outcome)}`)}">${outcomeLabel(c.outcome)}</a>`;
  const rows = targets.map((target) => {
    const cells = kinds.map((kind) => {
      const here = candidates.filter((c) => c.fault.target === target && c.fault.kind === kind);
      return here.length ? `<td>${here.map(cell).join("")}</td>` : `<td class="empty"></td>`;
    });
    return `<tr><th scope="row"><code>${html(target)}</code></th>${cells.join("")}</tr>`;
  });
  const counts = OUTCOMES.map((o) => `${countOf(candidates, o)} ${o}`).join(", ");
  return `<section class="scenario">
<h2>${html(scenario)}</h2>
<p>${candidates.length} candidate(s): ${counts}</p>
<table class="matrix"><thead><tr><th scope="col">target \\ fault kind</th>${kinds.map((k) => `<th scope="col">${html(k)}</th>`).join("")}</tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
</section>`;
}

/** What the page is titled; the command line that explored is shown under the title. */
export interface ExploreHtmlOptions {
  command: string;
  title?: string;
}

/**
 * One self-contained HTML page of an explore: the coverage, the harmful findings, then per
 * scenario a matrix of fault targets × fault kinds coloured and labelled by outcome, each cell
 * linking to its candidate's evidence further down. The page is well-formed XML too.
 */
export function exploreHtml(report: ExploreReport, options: ExploreHtmlOptions): string {
  const title = options.title ?? "faultline explore";
  const ran = report.candidates;
  const harmful = ran.filter(isHarmful);
  const pruned = report.pruned.reduce((n, p) => n + p.count, 0);
  const figures = [
    `explored <b>${ran.length}</b> of ${ran.length + report.notRun} candidate(s)`,
    `not run <b>${report.notRun}</b> (budget or --max-runs)`,
    `pruned <b>${pruned}</b>`,
    `${report.sites} statement site(s), ${report.columns} column(s)`,
    `wall time <b>${(report.ms / 1000).toFixed(1)} s</b>`,
    ...OUTCOMES.map(
      (o) => `<span class="badge ${outcomeClass(o)}">${LABEL[o]}</span> <b>${countOf(ran, o)}</b>`,
    ),
  ];
  const list = (items: string[]) =>
    items.length ? `<ul>${items.map((i) => `<li>${i}</li>`).join("")}</ul>` : "";
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<title>${html(title)}</title>
<style>${PAGE_CSS}</style>
</head><body>
<header>
<h1>${html(title)}</h1>
<p class="command">found with <code>${html(options.command)}</code></p>
<ul class="figures">${figures.map((f) => `<li>${f}</li>`).join("")}</ul>
${list(report.pruned.map((p) => `pruned ${p.count}: ${html(p.reason)}`))}
${list(report.failedClean.map((line) => `<span class="badge o-errored">fails clean</span> ${html(line)}`))}
</header>
<section class="harmful-findings">
<h2>Harmful findings: ${harmful.length}</h2>
${harmful.length ? `<ol>${harmful.map((c) => `<li><a href="#c${html(String(c.id))}">${html(findingLine(c))}</a> (${html(c.scenario)})</li>`).join("")}</ol>` : "<p>Nothing harmful found.</p>"}
</section>
${scenariosOf(report)
  .map((s) => matrixHtml(s, ofScenario(report, s)))
  .join("\n")}
<section class="evidence-list">
<h2>Evidence</h2>
${ran.map(evidenceHtml).join("\n")}
</section>
</body></html>
`;
}

/** A harmful finding of an earlier explore's `--json` report, to compare a new run with. */
export interface BaselineFinding {
  scenario: string;
  kind: string;
  target: string;
  failed: string[];
  seen?: string;
  file?: string;
}

const shown = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return value === undefined ? "nothing" : text.length > 60 ? `${text.slice(0, 57)}…` : text;
};
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The harmful findings of an explore `--json` report. A file that is missing, not JSON or not of
 * that shape is a BadUsageError naming the file and the field.
 */
export async function readBaselineReport(file: string): Promise<BaselineFinding[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new BadUsageError(
      `${file}: cannot read the baseline explore report (${(error as Error).message})`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new BadUsageError(
      `${file}: the baseline explore report is not JSON (${(error as Error).message})`,
    );
  }
  const bad = (field: string, expected: string, found: unknown) =>
    new BadUsageError(`${file}: ${field}: expected ${expected}, found ${shown(found)}`);
  const stringAt = (value: unknown, field: string, optional = false) => {
    if (typeof value === "string" || (optional && value === undefined)) return value;
    throw bad(field, "a string", value);
  };
  if (!isObject(data)) throw bad("(top level)", "an explore --json report (an object)", data);
  if (data.faultline !== 1) throw bad("faultline", "1", data.faultline);
  if (data.command !== "explore") throw bad("command", '"explore"', data.command);
  if (!Array.isArray(data.candidates)) throw bad("candidates", "an array", data.candidates);
  const findings: BaselineFinding[] = [];
  data.candidates.forEach((c: unknown, i) => {
    const at = `candidates[${i}]`;
    if (!isObject(c)) throw bad(at, "an object", c);
    const scenario = stringAt(c.scenario, `${at}.scenario`) as string;
    if (!isObject(c.fault)) throw bad(`${at}.fault`, "an object", c.fault);
    const kind = stringAt(c.fault.kind, `${at}.fault.kind`) as string;
    const target = stringAt(c.fault.target, `${at}.fault.target`) as string;
    if (c.outcome !== undefined && !isOutcome(c.outcome))
      throw bad(`${at}.outcome`, `one of ${OUTCOMES.map((o) => `"${o}"`).join(", ")}`, c.outcome);
    if (c.failed !== undefined && !Array.isArray(c.failed))
      throw bad(`${at}.failed`, "an array of invariant names", c.failed);
    const failed = (c.failed ?? []).map((f: unknown, j: number) =>
      stringAt(f, `${at}.failed[${j}]`),
    ) as string[];
    const seen = stringAt(c.seen, `${at}.seen`, true);
    const written = stringAt(c.file, `${at}.file`, true);
    if (c.outcome === "harmful")
      findings.push({
        scenario,
        kind,
        target,
        failed,
        ...(seen === undefined ? {} : { seen }),
        ...(written === undefined ? {} : { file: written }),
      });
  });
  return findings;
}

/** A run's harmful findings against a baseline's, for a CI that fails only on new harm. */
export interface BaselineComparison {
  /** Harmful now, not harmful in the baseline. */
  added: Candidate[];
  /** Harmful in both. */
  known: Candidate[];
  /** Harmful in the baseline; ran now and survived or failed safe. */
  fixed: BaselineFinding[];
}

// A finding is the same when the same fault kind hits the same target of the same scenario.
const identity = (scenario: string, kind: string, target: string) =>
  JSON.stringify([scenario, kind, target]);
const candidateIdentity = (c: Candidate) => identity(c.scenario, c.fault.kind, c.fault.target);

/** Whether a candidate is one of the baseline's harmful findings. */
export function inBaseline(baseline: BaselineFinding[]): (candidate: Candidate) => boolean {
  const before = new Set(baseline.map((f) => identity(f.scenario, f.kind, f.target)));
  return (candidate) => before.has(candidateIdentity(candidate));
}

/**
 * Which harmful findings are new, which were known, which are fixed. A baseline finding whose
 * candidate did not run this time (the budget ran out, or it errored) is neither fixed nor added.
 */
export function newHarmful(report: ExploreReport, baseline: BaselineFinding[]): BaselineComparison {
  const known = inBaseline(baseline);
  const harmful = report.candidates.filter(isHarmful);
  const harmfulNow = new Set(harmful.map(candidateIdentity));
  const harmless = new Set(
    report.candidates
      .filter((c) => c.outcome === "survived" || c.outcome === "failed safe")
      .map(candidateIdentity),
  );
  return {
    added: harmful.filter((c) => !known(c)),
    known: harmful.filter(known),
    fixed: baseline.filter((f) => {
      const key = identity(f.scenario, f.kind, f.target);
      return harmless.has(key) && !harmfulNow.has(key);
    }),
  };
}
