import { readFile } from "node:fs/promises";
import path from "node:path";
import { BadUsageError } from "../errors.ts";
import type { EventMention, LogError } from "../incident/index.ts";
import { type Command, withDocs } from "./command.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";
import { prepareRun } from "./prepare-run.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH, type RunValues } from "./run-flags.ts";

// What says which schema the log is read against is run's; the rest of run's flags are not.
const { config, migrations, schema, migrate, postgres, "allow-remote": allowRemote } = RUN_FLAGS;

export const INCIDENT_FLAGS = {
  config,
  migrations,
  schema,
  migrate,
  postgres,
  "allow-remote": allowRemote,
  since: {
    type: "string",
    value: "<time>",
    help: [
      "read only what was logged at or after this time (2026-11-27T14:00:00Z, or as the log writes it)",
    ],
  },
  until: {
    type: "string",
    value: "<time>",
    help: ["read only what was logged at or before this time"],
  },
  database: {
    type: "string",
    value: "<name>",
    help: ["read only errors of this database (lines that name none are kept)"],
  },
  fixtures: {
    type: "string",
    value: "<dir>",
    help: [
      "recorded or imported payloads (faultline record / import) to match the logged events to",
    ],
  },
  "log-line-prefix": {
    type: "string",
    value: "<prefix>",
    help: ["the server's log_line_prefix, when it is none of the common ones faultline detects"],
  },
  combine: {
    type: "boolean",
    help: ["write one scenario with every incident found, not one per root cause"],
  },
  out: {
    type: "string",
    value: "<file>",
    help: [
      "where the scenario goes (default faultline/incident-<date>.scenario.ts; never overwritten)",
    ],
  },
  help: { ...HELP_FLAG, help: ["show this help"] },
} as const;

const EXAMPLE = `  faultline incident postgresql-2026-11-27.log app.log --since 2026-11-27T14:00:00Z
  faultline incident postgresql.csv --fixtures fixtures/incident --config faultline.config.ts
`;

const HELP = withDocs(
  "docs/incident.md",
  `Usage: faultline incident <log files…> [options]

Reads what production left behind — Postgres's server log (stderr with any log_line_prefix,
csvlog, jsonlog) and the application's log (the driver's exceptions) — and rebuilds the
incident: per session the first error, the statements its aborted transaction ignored (25P02),
the missing column or table resolved against the migrations' schema, the webhook events the
logs name. Writes a scenario that reproduces it: the drift, the webhooks, any fault drift cannot
explain, and noCascade, processingContinues, noAbortedIdleConnections, noLostEvents. Says what
it inferred rather than read.

Options:
${formatFlags(INCIDENT_FLAGS, RUN_FLAGS_WIDTH)}
Exit codes: 0 a scenario written, 2 bad usage or nothing to reproduce (no database error in the
            logs, a format not recognised), 3 infrastructure failed

Examples:
${EXAMPLE}`,
);

function timeFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  const iso = Date.parse(/^\d{4}-\d\d-\d\d \d/.test(text) ? text.replace(" ", "T") : text);
  if (Number.isNaN(iso))
    throw new BadUsageError(
      `${flag}: expected a time like 2026-11-27T14:00:00Z or 2026-11-27 14:00:00, got ${JSON.stringify(raw)}`,
    );
  return iso;
}

/** `faultline incident`: a production log in, a failing scenario out. */
export const incidentCommand: Command = {
  name: "incident",
  summary: "rebuild a production incident from its logs as a scenario that reproduces it",
  flags: INCIDENT_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values, positionals } = parseFlags(args, INCIDENT_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!positionals.length)
      throw new BadUsageError(
        "incident: no log file given: name the Postgres server log and/or the application's log",
      );
    const since = timeFlag("--since", values.since);
    const until = timeFlag("--until", values.until);
    const incident = await import("../incident/index.ts");
    const { fixtureNames, loadRecordedFixtures } = await import("../webhooks/index.ts");
    const stockFixtures = await fixtureNames("stripe");
    const errors: LogError[] = [];
    const mentions: EventMention[] = [];
    for (const file of positionals) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        throw new BadUsageError(`${file}: cannot read the log (${(error as Error).message})`);
      }
      let read: ReturnType<typeof incident.readLog>;
      try {
        read = incident.readLog(file, text, {
          ...(values["log-line-prefix"] ? { prefix: values["log-line-prefix"] } : {}),
          eventTypes: stockFixtures,
        });
      } catch (error) {
        if (error instanceof incident.UnrecognisedLogError || error instanceof incident.PrefixError)
          throw new BadUsageError(error.message);
        throw error;
      }
      process.stdout.write(
        `faultline: ${file}: ${read.format}, ${read.recognised} line(s) read, ${read.errors.length} error(s)\n`,
      );
      const inWindow = (at: Date | undefined) =>
        !at ||
        ((since === undefined || at.getTime() >= since) &&
          (until === undefined || at.getTime() <= until));
      errors.push(
        ...read.errors.filter(
          (e) =>
            inWindow(e.at) &&
            (values.database === undefined || !e.database || e.database === values.database),
        ),
      );
      mentions.push(...read.mentions.filter((m) => inWindow(m.at)));
    }
    if (!errors.some((e) => e.sqlstate))
      throw new BadUsageError(
        `incident: no database error in ${positionals.join(", ")}${since !== undefined || until !== undefined ? " between --since and --until" : ""}: nothing to reproduce`,
      );
    const recorded = values.fixtures
      ? (
          await loadRecordedFixtures(path.resolve(values.fixtures)).catch((error: Error) => {
            throw new BadUsageError(`--fixtures: ${error.message}`);
          })
        ).map((f) => ({ file: f.file, eventId: f.metadata.eventId, type: f.metadata.type }))
      : [];

    const prepared = await prepareRun(
      { ...values, quiet: true } as RunValues,
      [],
      signal,
      [],
      true,
    );
    try {
      const environment = await prepared.environment;
      const { readSchemaShape } = await import("../postgres/index.ts");
      const db = await environment.databases.create("incident-schema", []);
      let shape: Awaited<ReturnType<typeof readSchemaShape>>;
      try {
        shape = await readSchemaShape((sql) => db.query(sql));
      } finally {
        await environment.databases.drop(db.name);
      }
      const rebuilt = incident.reconstruct(errors, shape);
      if (!rebuilt.incidents.length) {
        const why = rebuilt.orphanAborted.length
          ? `${rebuilt.orphanAborted.length} × 25P02 (current transaction is aborted) but not the error that aborted the transaction: does the log start after it, or is log_min_error_statement above ERROR?`
          : `no error of a kind a scenario reproduces (${rebuilt.notReproduced.join("; ")})`;
        throw new BadUsageError(`incident: ${why}`);
      }
      const own = prepared.scenarios.map((s) => s.scenario);
      const firstFixture = own
        .flatMap((s) =>
          s.webhooks.map((w) => ({
            name: s.name,
            fixture: "fixture" in w ? w.fixture : undefined,
          })),
        )
        .find((w) => w.fixture);
      const defaultFixture = firstFixture?.fixture
        ? {
            fixture: firstFixture.fixture,
            from: `the first fixture the scenario ${firstFixture.name} sends`,
          }
        : {
            fixture: "checkout.session.completed",
            from: "Stripe's payment event, as the payments example sends",
          };
      const ownNoLost = own
        .flatMap((s) => s.invariants)
        .find((i) => i.invariant === "noLostEvents" && "query" in i && i.query);
      const presetTables = ["webhook_events", "credit_grants"].every((t) => shape.has(t));
      const noLostEvents = ownNoLost
        ? { spec: ownNoLost as Record<string, unknown> }
        : presetTables
          ? { spec: { invariant: "noLostEvents" } }
          : {
              omitted:
                "the schema has no webhook_events and credit_grants (the payments preset) and no scenario of the project gives noLostEvents a query: add noLostEvents({ query }) with the SQL that finds an event's effect",
            };
      const command = ["faultline", "incident", ...args].join(" ");
      const date = (rebuilt.incidents[0]?.first ?? new Date()).toISOString().slice(0, 10);
      const out = values.out ?? path.join("faultline", `incident-${date}.scenario.ts`);
      const groups = values.combine ? [rebuilt.incidents] : rebuilt.incidents.map((i) => [i]);
      for (const group of groups) {
        const written = await incident.writeIncidentScenario(group, mentions, {
          out,
          stockFixtures,
          recorded,
          defaultFixture,
          noLostEvents,
          command,
        });
        process.stdout.write(`INCIDENT ${group.map((i) => i.key).join("; ")}\n`);
        for (const line of written.summary) process.stdout.write(`  ${line}\n`);
        process.stdout.write(
          `  read from: ${written.readFrom.slice(0, 8).join(", ")}${written.readFrom.length > 8 ? `, … ${written.readFrom.length - 8} more` : ""}\n`,
        );
        for (const line of written.inferred) process.stdout.write(`  inferred: ${line}\n`);
        process.stdout.write(
          `  written: ${path.relative(process.cwd(), written.file) || written.file} (faultline run it: it fails while the bug is there)\n`,
        );
      }
      if (rebuilt.orphanAborted.length)
        process.stdout.write(
          `  also ${rebuilt.orphanAborted.length} × 25P02 with no error before them in their session (not reproduced)\n`,
        );
      for (const line of rebuilt.notReproduced)
        process.stdout.write(`  not reproduced (no fault kind for it): ${line}\n`);
      return 0;
    } finally {
      await prepared.close();
    }
  },
};
