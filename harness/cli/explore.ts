import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { FAULT_KIND_NAMES, FAULT_KINDS } from "../explore/kinds.ts";
import { writeReportFile } from "../report/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";
import { prepareRun } from "./prepare-run.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH } from "./run-flags.ts";

// What says what to test is run's; the reports are explore's own (a matrix, not a timeline).
const {
  json: _json,
  junit: _junit,
  summary: _summary,
  html: _html,
  "trace-dir": _traceDir,
  ...TARGET_FLAGS
} = RUN_FLAGS;

export const EXPLORE_FLAGS = {
  ...TARGET_FLAGS,
  budget: {
    type: "string",
    value: "<time>",
    help: ["stop starting candidates after this long: 90s, 5m, 1h (default: none)"],
  },
  "max-runs": {
    type: "string",
    value: "<n>",
    help: ["try at most this many candidates (default: all)"],
  },
  faults: {
    type: "string",
    value: "<kinds>",
    help: ["comma-separated fault kinds to try (default: all; see below)"],
  },
  depth: {
    type: "string",
    value: "<1|2>",
    help: [
      "1: one fault per candidate (default); 2: also each fault the service refused",
      "followed by the provider's retry, alone and with a fault on the error path",
    ],
  },
  json: {
    type: "string",
    value: "<file>",
    help: ["write every candidate and its outcome as JSON (what --baseline-report reads)"],
  },
  html: {
    type: "string",
    value: "<file>",
    help: ["write a page: statement sites × fault kinds coloured by outcome, cells link evidence"],
  },
  junit: {
    type: "string",
    value: "<file>",
    help: ["write JUnit XML: one failing test case per harmful finding"],
  },
  "baseline-report": {
    type: "string",
    value: "<file>",
    help: [
      "an earlier --json report: exit 1 only for harmful findings it does not have",
      "(a pull request must not add weak points; known ones are listed, not failed)",
    ],
  },
  out: {
    type: "string",
    value: "<dir>",
    help: ["where each harmful finding is written as a scenario (default ./faultline/found)"],
  },
  help: { ...HELP_FLAG, help: ["show this help"] },
} as const;

/** `90s`, `5m`, `1h`, `1500ms` → milliseconds. */
export function parseBudget(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim());
  if (!m || Number(m[1]) <= 0)
    throw new BadUsageError(
      `--budget: expected a time like 90s, 5m, 1h or 1500ms, got ${JSON.stringify(raw)}`,
    );
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

const EXAMPLE = `  faultline explore scenarios/credits-balance-present.scenario.ts --service payments:broken
  faultline explore --faults undefined-column,drop-column --max-runs 50 --out faultline/found
  faultline explore --depth 2 --json explore.json --html explore.html --junit explore.xml
  faultline explore --baseline-report main-explore.json
`;

const HELP_TEXT = `Usage: faultline explore [files, folders or globs…] [options]

Finds the incident nobody wrote down. Runs each scenario clean (its own drift and rules), takes
from its trace every statement the service ran and every column those statements name, then
tries one fault at a time — each on its own clone, judged by the scenario's invariants plus
noCascade, noAbortedIdleConnections, rollsBackAfterError and processingContinues — and sorts
each outcome: survived, failed safe (its webhook got a non-2xx, so the provider retries,
nothing else harmed) or harmful (a cascade, an aborted or poisoned connection, a later webhook
failing, an effect lost behind a 2xx, a double effect, a hang). Each harmful finding is shrunk
(webhooks, fault rules and seed rows dropped while the same invariant still fails: ddmin) and
written as a scenario file that \`faultline run\` fails on, one per weak point.

Options:
${formatFlags(EXPLORE_FLAGS, RUN_FLAGS_WIDTH)}
Fault kinds (--faults):
${FAULT_KINDS.map((k) => `  ${k.name.padEnd(22)}  ${k.summary}`).join("\n")}

Exit codes: 0 nothing harmful found (with --baseline-report: nothing harmful the baseline lacks),
            1 something harmful found (or a scenario fails clean),
            2 bad usage or nothing to explore, 3 infrastructure failed

Examples:
${EXAMPLE}`;

const HELP = withDocs("docs/explore.md", HELP_TEXT);

function positive(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new BadUsageError(`${flag}: expected a whole number above 0, got ${JSON.stringify(raw)}`);
  return n;
}

/** `faultline explore`: every statement × every fault kind, harmful findings written as scenarios. */
export const exploreCommand: Command = {
  name: "explore",
  summary: "try every fault kind at every statement of the service's path; write what harms",
  flags: EXPLORE_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values, positionals } = parseFlags(args, EXPLORE_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const budgetMs = parseBudget(values.budget);
    const maxRuns = positive("--max-runs", values["max-runs"]);
    if (values.depth !== undefined && values.depth !== "1" && values.depth !== "2")
      throw new BadUsageError(
        `--depth: expected 1 (one fault per candidate) or 2 (a fault, then the retry's), got ${JSON.stringify(values.depth)}`,
      );
    const wanted = values.faults
      ?.split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    const unknown = wanted?.filter((k) => !FAULT_KIND_NAMES.includes(k)) ?? [];
    if (unknown.length || (wanted && wanted.length === 0))
      throw new BadUsageError(
        `--faults: unknown kind(s) ${unknown.map((k) => JSON.stringify(k)).join(", ") || "(none given)"}; the kinds are: ${FAULT_KIND_NAMES.join(", ")}`,
      );
    const kinds = wanted ? FAULT_KINDS.filter((k) => wanted.includes(k.name)) : FAULT_KINDS;
    // Read first: a baseline that cannot be read is bad input, found before minutes of runs.
    const baseline =
      values["baseline-report"] === undefined
        ? undefined
        : await (await import("../explore/index.ts")).readBaselineReport(values["baseline-report"]);
    const prepared = await prepareRun(values, positionals, signal, [values.service]);
    try {
      if (!prepared.scenarios.length)
        throw new BadUsageError(
          "explore: no scenario to explore (give files, or a config's scenarios)",
        );
      const { explore, exploreHtml, exploreJunit, inBaseline, newHarmful } = await import(
        "../explore/index.ts"
      );
      const isKnown = baseline ? inBaseline(baseline) : undefined;
      const [service] = await prepared.services;
      const command = ["faultline", "explore", ...args].join(" ");
      const outDir = path.resolve(values.out ?? path.join("faultline", "found"));
      const say = prepared.output.progress;
      const report = await explore(prepared.scenarios, {
        environment: await prepared.environment,
        run: {
          ...prepared.options,
          service: (service as { spec: ServiceSpec }).spec,
          onProgress: () => {},
        },
        kinds,
        depth: values.depth === "2" ? 2 : 1,
        ...(maxRuns === undefined ? {} : { maxRuns }),
        ...(budgetMs === undefined ? {} : { budgetMs }),
        outDir,
        command,
        onLine: say,
        // A pull request's gate needs the new weak points shrunk, not the ones main has filed.
        ...(isKnown ? { known: isKnown } : {}),
      });
      // Said even with --quiet: a scenario that fails clean is why nothing was explored.
      for (const line of report.failedClean) process.stdout.write(`${line}\n`);
      const ran = report.candidates;
      const count = (o: string) => ran.filter((c) => c.outcome === o).length;
      const shown = (file: string) => path.relative(process.cwd(), file) || file;
      for (const c of ran.filter((c) => c.outcome === "harmful")) {
        const same = c.sameAs === undefined ? undefined : ran.find((o) => o.id === c.sameAs);
        const where = c.file
          ? `\n         written: ${shown(c.file)}${c.confirmed === false ? " (timing-dependent: not harmful again in a confirming run)" : ""}`
          : same?.file
            ? `\n         same weak point as ${same.fault.kind} there: ${shown(same.file)}`
            : isKnown?.(c)
              ? `\n         known in ${values["baseline-report"]}: not shrunk or written again`
              : "";
        process.stdout.write(
          `HARMFUL  ${c.fault.kind} at ${c.fault.target}  → ${c.seen ?? c.failed?.join(", ")}${where}\n`,
        );
      }
      const pruned = report.pruned.reduce((n, p) => n + p.count, 0);
      process.stdout.write(
        `explored ${ran.length} of ${ran.length + report.notRun} candidate(s) over ${report.sites} statement site(s) and ${report.columns} column(s) × ${kinds.length} kind(s) in ${(report.ms / 1000).toFixed(1)}s: ${count("survived")} survived, ${count("failed safe")} failed safe, ${count("harmful")} harmful${count("errored") ? `, ${count("errored")} errored` : ""}; ${pruned} pruned${report.notRun ? `; ${report.notRun} not run (budget or --max-runs)` : ""}\n`,
      );
      for (const p of report.pruned) process.stdout.write(`  pruned ${p.count}: ${p.reason}\n`);
      if (values.json)
        await writeReportFile(
          values.json,
          `${JSON.stringify({ faultline: 1, command: "explore", ...report }, null, 2)}\n`,
        );
      if (values.html) await writeReportFile(values.html, exploreHtml(report, { command }));
      if (values.junit) await writeReportFile(values.junit, exploreJunit(report, { command }));
      if (report.failedClean.length) return 1;
      if (ran.length === 0 && report.sites === 0)
        throw new BadUsageError(
          "explore: the scenarios' clean runs traced no statement: nothing to explore (is the service's database URL the one faultline sets?)",
        );
      // A gate must never go green on nothing: a budget gone before the first candidate is no pass.
      if (ran.length === 0 && report.notRun > 0)
        throw new BadUsageError(
          `explore: --budget or --max-runs left no time for any of the ${report.notRun} candidate(s): give more`,
        );
      if (baseline === undefined) return count("harmful") > 0 ? 1 : 0;
      const { added, known, fixed } = newHarmful(report, baseline);
      const file = values["baseline-report"];
      for (const c of known)
        process.stdout.write(`known    ${c.fault.kind} at ${c.fault.target} (in ${file})\n`);
      for (const f of fixed)
        process.stdout.write(`fixed    ${f.kind} at ${f.target} (harmful in ${file}, not now)\n`);
      for (const c of added)
        process.stdout.write(
          `NEW      ${c.fault.kind} at ${c.fault.target}  → ${c.seen ?? c.failed?.join(", ")}\n`,
        );
      process.stdout.write(
        `against ${file}: ${added.length} new harmful, ${known.length} known, ${fixed.length} fixed\n`,
      );
      return added.length > 0 ? 1 : 0;
    } finally {
      await prepared.close();
    }
  },
};
