import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { faultlineVersion } from "../lifecycle/index.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, parseFlags, UsageError, undocumented } from "./flags.ts";
import { prepareRun } from "./prepare-run.ts";
import { replayCommandLine } from "./replay-command-line.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH } from "./run-flags.ts";

const GATE_FLAGS = {
  ...undocumented(RUN_FLAGS),
  baseline: {
    type: "string",
    value: "<service>",
    help: ["a bundled name or the command line of the code before the fix"],
  },
  candidate: {
    type: "string",
    value: "<service>",
    help: [
      "the same for the code with the fix; with a faultline.config.ts, both",
      "replace service.command and keep the rest of the service block",
    ],
  },
} as const;

/** What gate does and its own flags, as its help and the global usage say it. */
const GATE_DESCRIPTION = `faultline gate: prove a fix. Runs every scenario (every cell of its matrix) against the service
  before the fix (--baseline) and after it (--candidate), same seed on both sides, each cell on
  its own database, and takes run's options. A scenario proves the fix when it fails on the
  baseline and passes on the candidate; regresses when it passes on the baseline and fails on
  the candidate; is not fixed when it fails on both; does not reproduce when it passes on both
  (what a scenario marked mustPassOnBaseline must do). Exit 0 only when every scenario proves
  the fix or is a guard that passes on both; 1 otherwise; 2 and 3 as in run.
${formatFlags(GATE_FLAGS, RUN_FLAGS_WIDTH)}`;

/** Gate's section of the global usage. */
export const GATE_SECTION = `${GATE_DESCRIPTION}  e.g. faultline gate scenarios/credits-balance-hotfix.scenario.ts \\
         --baseline payments:broken --candidate payments:fixed --junit gate.xml
`;

const EXAMPLE = `  faultline gate scenarios/credits-balance-hotfix.scenario.ts \\
    --baseline payments:broken --candidate payments:fixed --junit gate.xml
`;

const HELP = withDocs(
  "docs/gate.md",
  `Usage: faultline gate [files, folders or globs…] --baseline <service> --candidate <service> [options]

${GATE_DESCRIPTION}
Takes every option of faultline run (faultline run --help), among them --quiet and --verbose.

Example:
${EXAMPLE}`,
);

/** `faultline gate`: each scenario against the baseline and the candidate service. */
export const gateCommand: Command = {
  name: "gate",
  summary: "prove a fix: every scenario against the code before it and the code with it",
  flags: GATE_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values, positionals, tokens } = parseFlags(args, GATE_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    for (const side of ["baseline", "candidate"] as const) {
      const value = values[side];
      if (value === undefined || value.trim() === "")
        throw new UsageError(
          `gate: --${side} is required: a bundled service name or the command line that starts the ${side === "baseline" ? "code before the fix (e.g. the merge base's build)" : "code with the fix (e.g. the pull request's build)"}`,
        );
    }
    if (values.service !== undefined)
      throw new BadUsageError("gate: --service does not apply; give --baseline and --candidate");
    const prepared = await prepareRun(values, positionals, signal, [
      values.baseline,
      values.candidate,
    ]);
    try {
      const gates = await import("../gate/index.ts");
      const [baseline, candidate] = (await prepared.services).map(
        (s) => (s as { spec: ServiceSpec }).spec,
      ) as [ServiceSpec, ServiceSpec];
      const write = (text: string) => process.stdout.write(text);
      const summary = await gates.runGate(prepared.scenarios, await prepared.environment, {
        ...prepared.options,
        baseline,
        candidate,
        onGateStart: (info) => {
          if (prepared.output.quiet) return;
          write(
            `faultline gate: ${info.scenarios} scenario(s), ${info.cells} cell(s) × 2 services, ${info.concurrency} at a time, on ${info.postgres}; seed ${info.seed}\n  baseline:  ${info.baseline}\n  candidate: ${info.candidate}\n`,
          );
        },
      });
      for (const scenario of summary.scenarios) {
        write(`${gates.formatGateScenario(scenario)}\n`);
        if (prepared.output.verbose) {
          const { formatScenarioResult } = await import("../report/index.ts");
          for (const cell of scenario.cells)
            for (const [side, result] of [
              ["baseline", cell.baseline],
              ["candidate", cell.candidate],
            ] as const)
              write(
                `  ${side}: ${formatScenarioResult(result, prepared.output).replace(/\n/g, "\n  ")}\n`,
              );
        }
        const shown = new Set<string>();
        for (const cell of scenario.cells) {
          // What to look at next: the candidate where it fails, the baseline where it errors
          // or does not reproduce the incident.
          const replays: [ScenarioResult, string | undefined][] = [];
          if (cell.candidate.verdict !== "pass") replays.push([cell.candidate, values.candidate]);
          if (cell.baseline.verdict === "error" || scenario.outcome === "does not reproduce")
            replays.push([cell.baseline, values.baseline]);
          for (const [result, service] of replays) {
            result.replay = replayCommandLine(tokens, result, service);
            if (!shown.has(result.replay)) write(`  replay: ${result.replay}\n`);
            shown.add(result.replay);
          }
        }
      }
      write(`${gates.formatGateTotals(summary)}\n`);
      const report = await import("../report/index.ts");
      const environment = await prepared.environment;
      const versions = {
        faultline: faultlineVersion(),
        node: process.version,
        postgres: environment.postgres,
      };
      if (values.json)
        await report.writeReportFile(
          values.json,
          `${JSON.stringify(gates.toGateJson(summary, { versions }), null, 2)}\n`,
        );
      if (values.junit) await report.writeReportFile(values.junit, gates.toGateJunit(summary));
      if (values.html) {
        const cells = summary.scenarios.flatMap((s) => s.cells);
        await report.writeReportFile(
          values.html,
          report.toHtmlReport({
            title: "faultline gate",
            comparison: true,
            sides: [
              { label: `baseline: ${summary.baseline}`, results: cells.map((c) => c.baseline) },
              { label: `candidate: ${summary.candidate}`, results: cells.map((c) => c.candidate) },
            ],
          }),
        );
      }
      // Appended: GitHub's step summary file is shared by every step of the job.
      if (values.summary) {
        await mkdir(path.dirname(path.resolve(values.summary)), { recursive: true });
        await appendFile(values.summary, gates.toGateMarkdown(summary));
      }
      return summary.exitCode;
    } finally {
      await prepared.close();
    }
  },
};
