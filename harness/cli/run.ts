import type { Reporter } from "../report/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, parseFlags } from "./flags.ts";
import { prepareRun } from "./prepare-run.ts";
import { replayCommandLine } from "./replay-command-line.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH } from "./run-flags.ts";

/** What run does, its options and exit codes: its help and its section of the global usage. */
export const RUN_SECTION = `Runs scenarios (*.scenario.ts) against a service under test, each on its own database cloned
from a migrated template on a Postgres faultline starts. The service, schema, Postgres and
routes come from faultline.config.ts (.mjs, .js) in the current folder or a parent; with no
config, the bundled payments example. With no files, runs the config's scenarios, else
scenarios/ in the current folder.

Options:
${formatFlags(RUN_FLAGS, RUN_FLAGS_WIDTH)}
Exit codes: 0 all passed, 1 an invariant failed, 2 bad usage or bad scenario,
            3 infrastructure failed (Postgres or the service did not start)
`;

const EXAMPLE = `  faultline run                                   # the config's scenarios, else scenarios/
  faultline run scenarios/credits-balance-missing.scenario.ts --service payments:broken
  faultline run --junit results.xml --summary "$GITHUB_STEP_SUMMARY" --quiet
`;

const HELP = withDocs(
  "docs/command-line.md",
  `Usage: faultline run [files, folders or globs…] [options]

${RUN_SECTION}
Examples:
${EXAMPLE}`,
);

/** `faultline run`: scenarios against one service, each on its own database. */
export const runCommand: Command = {
  name: "run",
  summary: "run scenarios against a service under test, each on its own database",
  flags: RUN_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values, positionals, tokens } = parseFlags(args, RUN_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const prepared = await prepareRun(values, positionals, signal, [values.service]);
    try {
      const [{ runScenarios }, report] = await Promise.all([
        import("../scenario/index.ts"),
        import("../report/index.ts"),
      ]);
      const reporters: Reporter[] = [report.consoleReporter(undefined, prepared.output)];
      if (values.json) reporters.push(report.jsonReporter(values.json));
      if (values.junit) reporters.push(report.junitReporter(values.junit));
      if (values.html) reporters.push(report.htmlReporter(values.html));
      if (values.summary)
        reporters.push(
          report.markdownSummaryReporter(values.summary, {
            replayCommand: (r) => r.replay ?? report.defaultReplayCommand(r),
          }),
        );

      const [service] = await prepared.services;
      const summary = await runScenarios(prepared.scenarios, await prepared.environment, {
        ...prepared.options,
        service: (service as { spec: ServiceSpec }).spec,
        onRunStart: async (info) => {
          for (const r of reporters) await r.onRunStart?.(info);
        },
        onScenarioEnd: async (result) => {
          if (result.verdict !== "pass") result.replay = replayCommandLine(tokens, result);
          for (const r of reporters) await r.onScenarioResult?.(result);
        },
      });
      for (const r of reporters) await r.onRunEnd?.(summary);
      return summary.exitCode;
    } finally {
      await prepared.close();
    }
  },
};
