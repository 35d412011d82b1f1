import { type FlagValues, HELP_FLAG } from "./flags.ts";

// The names --service accepts without a command line (kept here so --help needs no imports).
const BUNDLED_SERVICES = ["payments:fixed", "payments:broken"];

/**
 * Flags `run`, `gate` and `load` share: where the service, schema and Postgres come from, and
 * reports. Their help is run's option list (also the global usage's).
 */
export const RUN_FLAGS = {
  config: {
    type: "string",
    value: "<file>",
    help: ["the config file (default: faultline.config.* here or in a parent)"],
  },
  service: {
    type: "string",
    value: "<name|command>",
    help: [
      `a bundled service (${BUNDLED_SERVICES.join(", ")}; default`,
      "payments:fixed) or a shell command line that starts your service",
      "(replaces service.command and keeps the rest of the config's",
      "service block); it gets DATABASE_URL, PORT and STRIPE_WEBHOOK_SECRET",
    ],
  },
  postgres: {
    type: "string",
    value: "<provider>",
    help: [
      "embedded (default), embedded:<major>, container[:image] or",
      "url:postgres://… (replaces database.postgres)",
    ],
  },
  "allow-remote": {
    type: "boolean",
    help: ["allow a url: server that is not on this machine's loopback"],
  },
  migrations: {
    type: "string",
    value: "<dir>",
    help: [
      "the schema from a migrations folder (plain, drizzle-kit, Prisma,",
      "Flyway, golang-migrate, dbmate), replacing the config's",
    ],
  },
  schema: {
    type: "string",
    value: "<file>",
    help: ["the schema from a pg_dump --schema-only file"],
  },
  migrate: {
    type: "string",
    value: "<command>",
    help: ["the schema made by your migrate command (run in this folder with", "DATABASE_URL set)"],
  },
  "no-template-cache": {
    type: "boolean",
    help: ["migrate afresh instead of starting from the cached template"],
  },
  json: { type: "string", value: "<file>", help: ["write the full results as JSON"] },
  junit: { type: "string", value: "<file>", help: ["write JUnit XML"] },
  summary: {
    type: "string",
    value: "<file>",
    help: ['append a one-screen Markdown summary (e.g. "$GITHUB_STEP_SUMMARY")'],
  },
  html: {
    type: "string",
    value: "<file>",
    help: ["write a self-contained HTML report: timeline, connection lanes, verdicts"],
  },
  seed: {
    type: "string",
    value: "<n>",
    help: [
      "seed for ids, delivery order and probabilistic faults (default: each",
      "scenario's randomSeed, else a new seed the run prints)",
    ],
  },
  concurrency: {
    type: "string",
    value: "<n>",
    help: ["how many scenario cells run at once (default 4 here; 1 = one by one)"],
  },
  cell: {
    type: "string",
    multiple: true,
    value: "<axis=value>",
    help: [
      "only the matrix cells with that value (repeatable), e.g.",
      '--cell "schema=credits_balance missing"',
    ],
  },
  "ready-timeout": {
    type: "string",
    value: "<ms>",
    help: ["how long the service may take to become ready (default 15000)"],
  },
  "trace-dir": {
    type: "string",
    value: "<dir>",
    help: ["keep each scenario's proxy trace there as <scenario>.ndjson"],
  },
  quiet: { type: "boolean", short: "q", help: ["print only the verdict lines and errors"] },
  verbose: {
    type: "boolean",
    help: [
      "also print progress details: the scenario files, how long Postgres",
      "and the template took, every invariant that held",
    ],
  },
  help: { ...HELP_FLAG, help: ["show this help"] },
} as const;

/** The left column's width in run's option list (and gate's, proxy's and load's). */
export const RUN_FLAGS_WIDTH = 24;

export type RunValues = FlagValues<typeof RUN_FLAGS>;

/** Flags that name a report file: a replay command line leaves them out. */
export const REPORT_FLAGS = new Set(["json", "junit", "summary", "html"]);
