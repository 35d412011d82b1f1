/** `faultline init`: detect a repository's service, schema and webhook route; write a config. */
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { fixtureNames } from "../webhooks/index.ts";
import { guessColumn } from "./column.ts";
import { detectEnv, type SampleVariable, sampleVariables } from "./env.ts";
import {
  type DatabaseSource,
  detectDatabase,
  detectSelfMigration,
  schemasNotCreated,
} from "./migrations.ts";
import { renderConfig, renderScenario } from "./render.ts";
import { type Evidence, type Guess, Repo } from "./repo.ts";
import { detectService, type ServiceGuess } from "./service.ts";
import { detectEventType, detectWebhook, type WebhookRoute } from "./webhook.ts";

export { type CleanRun, checkCleanRun } from "./check.ts";
export type { DatabaseSource, Evidence, Guess, ServiceGuess, WebhookRoute };

/** What `initProject` found, wrote and wants checked. */
export interface InitReport {
  /** The repository folder, absolute. */
  dir: string;
  service?: Guess<ServiceGuess>;
  database?: Guess<DatabaseSource>;
  webhook?: Guess<WebhookRoute>;
  databaseUrlEnv: Guess<string>;
  webhookSecretEnv: Guess<string>;
  /** Variables of the sample env file the config sets (sample or dummy values). */
  sampleEnv: SampleVariable[];
  /** "table.column" the starter scenario drops. */
  dropColumn?: Guess<string>;
  /** The Stripe event (fixture name) the starter scenario sends. */
  eventType: Guess<string>;
  /** The files, relative to `dir`: written now, or kept because they existed. */
  files: { path: string; action: "written" | "kept" }[];
  /** What a person should check before trusting the config. */
  check: string[];
}

export const CONFIG_FILE = "faultline.config.ts";
export const SCENARIO_FILE = "faultline/incident.scenario.ts";

/**
 * Detect the service in `dir` and write faultline.config.ts and faultline/incident.scenario.ts
 * there. Existing files are never overwritten (they are reported as kept). Throws
 * BadUsageError when `dir` is not a readable folder.
 */
export async function initProject(dir: string, _options?: { force?: false }): Promise<InitReport> {
  const root = path.resolve(dir);
  try {
    if (!statSync(root).isDirectory()) throw new Error("not a folder");
    accessSync(root, constants.R_OK | constants.X_OK);
  } catch (error) {
    throw new BadUsageError(`init: cannot read the folder ${root}: ${(error as Error).message}`);
  }
  let repo: Repo;
  try {
    repo = new Repo(root);
  } catch (error) {
    throw new BadUsageError(`init: cannot read the folder ${root}: ${(error as Error).message}`);
  }

  const webhook = detectWebhook(repo);
  let database = detectDatabase(repo);
  const service = detectService(repo, webhook?.value.file);
  // A server that runs its migrator at start: a folder alone cannot build its schema (it often
  // makes the schema in code), and the template is built by starting it once instead.
  const selfMigration = detectSelfMigration(repo, service?.value.cwd ?? ".");
  const schemasMadeInCode = database ? schemasNotCreated(repo, database.sqlFiles) : [];
  if (selfMigration)
    database = {
      value: { migrate: "service", tool: "the service itself, at start" },
      evidence: [selfMigration, ...(database?.evidence ?? [])],
      sqlFiles: database?.sqlFiles ?? [],
    };
  const env = detectEnv(repo);
  const sampleEnv = sampleVariables(repo, service?.value.cwd ?? ".", [
    env.databaseUrl.value,
    env.webhookSecret.value,
  ]);
  const eventType = detectEventType(repo, webhook?.value.file, await fixtureNames("stripe"));
  const dropColumn = guessColumn(repo, webhook?.value.file, database?.sqlFiles ?? [], eventType);

  const check: string[] = [];
  if (!service) check.push("no start command found: set service.command in faultline.config.ts");
  else
    check.push(
      `the service starts with \`${service.value.command}\` and listens on $PORT (faultline sets PORT)`,
    );
  if (!database) check.push("no migrations found: set database in faultline.config.ts");
  else if (selfMigration)
    check.push(
      `the service migrates itself at start (${selfMigration.file}:${selfMigration.line}): the template is built by starting it once (database.migrate "service"); for drift, turn its self-migration off in service.env or faultline stops the scenario when it undoes the drift`,
    );
  else if (schemasMadeInCode.length && "migrations" in database.value)
    check.push(
      `the migrations use schema(s) ${schemasMadeInCode.join(", ")} that none of them creates (made in code?): add a migration that creates them, or let the service migrate (database: { migrate: "service" })`,
    );
  else if ("migrate" in database.value)
    check.push(`\`${database.value.migrate}\` migrates the database named by DATABASE_URL`);
  if (!webhook) check.push("no Stripe webhook handler found: set webhooks.stripe.path");
  else if (!webhook.value.path)
    check.push(
      `the Stripe handler in ${webhook.value.file} is mounted at a route not found: set webhooks.stripe.path`,
    );
  if (env.databaseUrl.evidence.length === 0)
    check.push("no database URL variable found: DATABASE_URL assumed in service.env");
  if (env.webhookSecret.evidence.length === 0)
    check.push("no webhook secret variable found: STRIPE_WEBHOOK_SECRET assumed in service.env");
  if (sampleEnv.length) {
    const dummies = sampleEnv.filter((v) => v.dummy).map((v) => v.name);
    check.push(
      `service.env sets ${sampleEnv.length} variable(s) from ${sampleEnv[0]?.at.file} so the service starts (${sampleEnv.map((v) => v.name).join(", ")})${dummies.length ? `; dummy values for ${dummies.join(", ")}` : ""}: replace any the service must really use`,
    );
  }
  if (!dropColumn)
    check.push(`no column to drop was found: fill in the drift TODO in ${SCENARIO_FILE}`);
  else
    check.push(
      `${SCENARIO_FILE} drops ${dropColumn.value}: pick the column your webhook path must survive losing`,
    );

  const input = {
    ...(service ? { service: service.value } : {}),
    ...(database ? { database: database.value } : {}),
    ...(webhook ? { webhook: webhook.value } : {}),
    databaseUrlEnv: env.databaseUrl.value,
    webhookSecretEnv: env.webhookSecret.value,
    sampleEnv,
    ...(dropColumn ? { dropColumn } : {}),
    eventType,
  };
  const files: InitReport["files"] = [];
  for (const [rel, text] of [
    [CONFIG_FILE, renderConfig(input)],
    [SCENARIO_FILE, renderScenario(input)],
  ] as const) {
    const full = path.join(root, rel);
    if (existsSync(full)) {
      files.push({ path: rel, action: "kept" });
      continue;
    }
    try {
      mkdirSync(path.dirname(full), { recursive: true });
      // "wx": a file created between the check and now is still never overwritten.
      writeFileSync(full, text, { flag: "wx" });
      files.push({ path: rel, action: "written" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        files.push({ path: rel, action: "kept" });
        continue;
      }
      throw new BadUsageError(`init: cannot write ${full}: ${(error as Error).message}`);
    }
  }

  return {
    dir: root,
    ...(service ? { service } : {}),
    ...(database ? { database: { value: database.value, evidence: database.evidence } } : {}),
    ...(webhook ? { webhook } : {}),
    databaseUrlEnv: env.databaseUrl,
    webhookSecretEnv: env.webhookSecret,
    sampleEnv,
    ...(dropColumn ? { dropColumn } : {}),
    eventType,
    files,
    check,
  };
}

function cite(evidence: Evidence[]): string {
  return evidence.length
    ? evidence
        .map((e) => `\n      ${e.file}:${e.line}${e.text ? `  ${e.text.slice(0, 100)}` : ""}`)
        .join("")
    : "  (default: nothing found)";
}

function describeDatabase(db: DatabaseSource): string {
  if ("migrations" in db) return `migrations ${db.migrations} (${db.layout})`;
  if ("migrate" in db) return `migrate with \`${db.migrate}\` (${db.tool})`;
  return `schema dump ${db.schema}`;
}

/** The report as `faultline init` prints it: each guess with its evidence, then what to check. */
export function formatInitReport(report: InitReport): string {
  const lines = [`faultline init in ${report.dir}`, "", "Guessed:"];
  const guess = (label: string, value: string | undefined, evidence: Evidence[] = []) =>
    lines.push(`  ${label}: ${value ?? "not found"}${value === undefined ? "" : cite(evidence)}`);
  guess(
    "service",
    report.service && `\`${report.service.value.command}\` in ${report.service.value.cwd}`,
    report.service?.evidence,
  );
  guess(
    "database",
    report.database && describeDatabase(report.database.value),
    report.database?.evidence,
  );
  guess(
    "stripe webhook",
    report.webhook && (report.webhook.value.path || `(route unknown) ${report.webhook.value.file}`),
    report.webhook?.evidence,
  );
  guess("database URL variable", report.databaseUrlEnv.value, report.databaseUrlEnv.evidence);
  guess("webhook secret variable", report.webhookSecretEnv.value, report.webhookSecretEnv.evidence);
  if (report.sampleEnv.length)
    lines.push(
      `  sample env: ${report.sampleEnv.map((v) => `${v.name}${v.dummy ? " (dummy)" : ""}`).join(", ")}${cite(report.sampleEnv.slice(0, 1).map((v) => ({ file: v.at.file, line: v.at.line, text: "" })))}`,
    );
  guess("event sent", report.eventType.value, report.eventType.evidence);
  guess("column to drop", report.dropColumn?.value, report.dropColumn?.evidence);
  lines.push("", "Files:");
  for (const f of report.files)
    lines.push(
      `  ${f.action === "written" ? "wrote" : "kept (exists, not overwritten)"} ${f.path}`,
    );
  lines.push("", "Check:");
  for (const c of report.check) lines.push(`  - ${c}`);
  lines.push("", "Then: npx faultline run");
  return `${lines.join("\n")}\n`;
}
