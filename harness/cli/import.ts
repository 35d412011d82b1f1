import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { HELP_FLAG, parseFlags, UsageError } from "./flags.ts";

// Described in the help's prose, not as a list.
const IMPORT_FLAGS = {
  out: { type: "string" },
  "no-scrub": { type: "boolean" },
  help: HELP_FLAG,
} as const;

const EXAMPLE = `  stripe events list --limit 100 > events.json
  faultline import stripe-events events.json --out fixtures/incident
`;

const HELP_TEXT = `Usage: faultline import stripe-events <events.json> [--out <dir>] [--no-scrub]

Turns an exported Stripe event list ({ "object": "list", "data": […] }) into fixtures that
faultline replay and scenarios' \`recorded\` steps send (default folder:
faultline-fixtures/<file name>).

Example:
${EXAMPLE}`;

const HELP = withDocs("docs/record-replay.md", HELP_TEXT);

/** `faultline import stripe-events FILE.json [--out DIR]`. */
export const importCommand: Command = {
  name: "import",
  summary: "an exported Stripe event list as fixtures for replay and recorded steps",
  flags: IMPORT_FLAGS,
  example: EXAMPLE,
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags(args, IMPORT_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [kind, file, ...extra] = positionals;
    if (kind !== "stripe-events" || !file || extra.length) {
      throw new UsageError("usage: faultline import stripe-events FILE.json [--out DIR]");
    }
    const outDir = path.resolve(
      values.out ?? path.join("faultline-fixtures", path.basename(file).replace(/\.json$/i, "")),
    );
    const { importStripeEvents } = await import("../webhooks/index.ts");
    let count: number;
    try {
      count = await importStripeEvents(path.resolve(file), outDir, { scrub: !values["no-scrub"] });
    } catch (error) {
      throw new BadUsageError((error as Error).message);
    }
    process.stdout.write(`faultline import: ${count} Stripe event(s) from ${file} → ${outDir}\n`);
    return 0;
  },
};
