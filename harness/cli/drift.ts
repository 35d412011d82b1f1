import path from "node:path";
import type { ProductionSource } from "../drift/index.ts";
import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";
import { schemaFromFlags } from "./prepare-run.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH } from "./run-flags.ts";

const DRIFT_FLAGS = {
  production: {
    type: "string",
    value: "<dump|url:…>",
    help: [
      "production's schema: a pg_dump --schema-only file (loaded into a scratch",
      "database on faultline's own Postgres) or url:postgres://… (read in one",
      "read-only transaction, catalog SELECTs only; a host off this machine",
      "needs --allow-remote)",
    ],
  },
  config: RUN_FLAGS.config,
  migrations: RUN_FLAGS.migrations,
  schema: RUN_FLAGS.schema,
  migrate: RUN_FLAGS.migrate,
  "allow-remote": {
    type: "boolean",
    help: ["allow a --production url: (or a config's Postgres) off this machine"],
  },
  write: {
    type: "string",
    value: "<file>",
    help: [
      "write a TypeScript module exporting a matrix axis, schema: [production,",
      "migrations], production's as drift on the migrations' (never overwrites)",
    ],
  },
  json: { type: "string", value: "<file>", help: ["write the differences as JSON"] },
  help: { ...HELP_FLAG, help: ["show this help"] },
} as const;

const EXAMPLE = `  faultline drift --production prod-schema.sql
  faultline drift --production prod-schema.sql --write faultline/production-schema.ts --json drift.json
  faultline drift --production url:postgres://readonly@127.0.0.1:5432/app --migrations db/migrations
`;

const HELP_TEXT = `Usage: faultline drift --production <pg_dump file | url:postgres://…> [options]

Compares the schema the migrations build (the schema run uses: the config's database, or
--migrations, --schema, --migrate; the bundled payments migrations when none is given) with
production's: tables, columns, types, nullability, defaults, constraints (primary key, unique,
foreign key, check), indexes and enum values, schema-qualified. Prints the differences a
webhook path can trip on, most important first: missing tables, missing columns, type
changes, nullability and default changes, missing constraints, missing indexes, then what
only production has.

Options:
${formatFlags(DRIFT_FLAGS, RUN_FLAGS_WIDTH)}
Exit codes: 0 production matches the migrations, 1 it differs,
            2 bad input (no --production, a file missing or not SQL that loads, a remote URL
            without --allow-remote, an existing --write file), 3 infrastructure failed

Examples:
${EXAMPLE}`;

const HELP = withDocs("docs/drift.md", HELP_TEXT);

/** The migrations side, read from the flags and config as run reads its schema. */
async function migrationsSide(values: {
  config?: string;
  migrations?: string;
  schema?: string;
  migrate?: string;
}) {
  const { findConfigFile, loadConfig } = await import("../config/index.ts");
  const configFile = values.config ?? (await findConfigFile());
  const config = configFile ? await loadConfig(configFile) : undefined;
  const schema = schemaFromFlags(values, config?.database.schema);
  if (schema && "migrate" in schema && schema.migrate.trim() === "service")
    throw new BadUsageError(
      `drift starts no service, so a schema the service makes itself (database.migrate "service"${config ? ` in ${config.file}` : ""}) cannot be built: give --migrations DIR, --schema FILE or --migrate "CMD"`,
    );
  return { config, schema };
}

function productionSource(value: string | undefined): ProductionSource {
  if (value === undefined || value.trim() === "")
    throw new BadUsageError(
      "drift: --production is required: a pg_dump --schema-only file, or url:postgres://… of a server to read",
    );
  return value.startsWith("url:") ? { url: value.slice(4) } : { file: path.resolve(value) };
}

/** `faultline drift --production …`: production's schema against the migrations'. */
export const driftCommand: Command = {
  name: "drift",
  summary: "compare production's schema with the migrations'; write it as a matrix axis",
  flags: DRIFT_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values } = parseFlags(args, DRIFT_FLAGS, { help: HELP });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const production = productionSource(values.production);
    const { existsSync } = await import("node:fs");
    // Found before Postgres starts: an existing file is never overwritten, so say so first.
    if (values.write && existsSync(values.write))
      throw new BadUsageError(
        `--write ${values.write}: the file exists; faultline never overwrites it (remove it or name another)`,
      );
    const { config, schema } = await migrationsSide(values);
    const allowRemote = Boolean(values["allow-remote"]) || (config?.database.allowRemote ?? false);
    const { resolvePostgresProvider } = await import("../postgres/index.ts");
    const provider = resolvePostgresProvider(config?.database.postgres ?? "embedded", {
      allowRemote,
      where: config ? `${config.file}: database.postgres` : "--postgres",
    });
    const { compareWithProduction, productionAxisModule, writeNewFile } = await import(
      "../drift/index.ts"
    );
    const report = await compareWithProduction({
      production,
      ...(schema ? { schema } : {}),
      provider,
      allowRemote,
      signal,
      onProgress: (line) => process.stdout.write(`faultline: ${line}\n`),
    });
    for (const d of report.differences) process.stdout.write(`${d.line}\n`);
    const seconds = (report.ms / 1000).toFixed(2);
    const count = report.differences.length;
    process.stdout.write(
      count === 0
        ? `production matches the migrations (${report.tables} table(s) compared; ${seconds}s)\n`
        : `production differs from the migrations: ${count} difference(s) (${report.production} against ${report.migrations}; ${seconds}s)\n`,
    );
    const command = ["faultline", "drift", ...args].join(" ");
    if (values.write) {
      await writeNewFile(values.write, productionAxisModule(report, command));
      process.stdout.write(`faultline: wrote the schema axis to ${values.write}\n`);
    }
    if (values.json) {
      const { writeReportFile } = await import("../report/index.ts");
      await writeReportFile(
        values.json,
        `${JSON.stringify(
          {
            faultline: 1,
            command: "drift",
            production: report.production,
            migrations: report.migrations,
            matches: count === 0,
            tables: report.tables,
            ms: Math.round(report.ms),
            differences: report.differences,
          },
          null,
          2,
        )}\n`,
      );
    }
    return count === 0 ? 0 : 1;
  },
};
