import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";

const INIT_FLAGS = {
  help: HELP_FLAG,
  check: {
    type: "boolean",
    help: [
      "then run the starter scenario once without its drift and say whether it passes;",
      "when it does not, why, in one line (the service's last words). Exit code: the run's.",
    ],
  },
} as const;

const EXAMPLE = `  cd my-service && npx faultline init && npx faultline run
`;

const HELP_TEXT = `Usage: faultline init [dir] [--check]

Detects the service, migrations, Stripe webhook route and env variables in dir (default: the
current folder), writes faultline.config.ts and faultline/incident.scenario.ts (existing files
are kept) and prints each guess with the file:line it came from.

${formatFlags(INIT_FLAGS, 8)}
Example:
${EXAMPLE}`;

const HELP = withDocs("docs/init.md", HELP_TEXT);

/** `faultline init [dir]`: write a config and a starter scenario from what the repo shows. */
export const initCommand: Command = {
  name: "init",
  summary: "write a config and a starter scenario from what the repository shows",
  flags: INIT_FLAGS,
  example: EXAMPLE,
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags(args, INIT_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length > 1)
      throw new BadUsageError(`init: expected at most one folder, got ${positionals.length}`);
    const { initProject, formatInitReport, checkCleanRun, CONFIG_FILE, SCENARIO_FILE } =
      await import("../init/index.ts");
    const report = await initProject(positionals[0] ?? ".");
    process.stdout.write(formatInitReport(report));
    if (!values.check) return 0;
    // The starter scenario once, without drift: a setup that does not work says so before any
    // drift is read as the service's fault.
    process.stdout.write("\ninit --check: running the starter scenario once without its drift…\n");
    const clean = await checkCleanRun(
      path.join(report.dir, CONFIG_FILE),
      path.join(report.dir, SCENARIO_FILE),
    );
    process.stdout.write(`${clean.line}\n`);
    return clean.exitCode;
  },
};
