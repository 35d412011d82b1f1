import { type Command, withDocs } from "./command.ts";
import { HELP_FLAG, parseFlags, UsageError } from "./flags.ts";

const POSTGRES_FLAGS = { help: HELP_FLAG } as const;

const EXAMPLE = `  faultline postgres fetch 16 && faultline run --postgres embedded:16
`;

const HELP_TEXT = `Usage: faultline postgres fetch <major>

Downloads Postgres <major> (15–18) for --postgres embedded:<major> into
~/.cache/faultline/postgres (FAULTLINE_POSTGRES_CACHE), so later runs need no network.

Example:
${EXAMPLE}`;

const HELP = withDocs("docs/postgres.md", HELP_TEXT);

/** `faultline postgres fetch <major>`: fetch a Postgres major ahead of an offline run. */
export const postgresCommand: Command = {
  name: "postgres",
  summary: "download a Postgres major for embedded runs that need no network",
  flags: POSTGRES_FLAGS,
  example: EXAMPLE,
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags(args, POSTGRES_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [verb, major, ...extra] = positionals;
    if (verb !== "fetch" || !major || !/^\d+$/.test(major) || extra.length)
      throw new UsageError("usage: faultline postgres fetch <major>, e.g. 16");
    const { fetchPostgresMajor } = await import("../postgres/index.ts");
    const dir = await fetchPostgresMajor(Number(major));
    process.stdout.write(`faultline: Postgres ${major} is ready in ${dir}\n`);
    return 0;
  },
};
