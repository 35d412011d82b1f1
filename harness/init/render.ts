import type { SampleVariable } from "./env.ts";
import type { DatabaseSource } from "./migrations.ts";
import type { Guess } from "./repo.ts";
import type { ServiceGuess } from "./service.ts";
import type { WebhookRoute } from "./webhook.ts";

/** What the two files are written from. */
export interface RenderInput {
  service?: ServiceGuess;
  database?: DatabaseSource;
  webhook?: WebhookRoute;
  databaseUrlEnv: string;
  webhookSecretEnv: string;
  /** Variables of the sample env file, set so the service starts. */
  sampleEnv?: SampleVariable[];
  dropColumn?: Guess<string>;
  /** The Stripe fixture the scenario sends. */
  eventType: Guess<string>;
}

/** A string literal, single-quoted when that avoids escaping (shell commands quote "$PORT"). */
const q = (s: string) => (s.includes('"') && !/['\\\n]/.test(s) ? `'${s}'` : JSON.stringify(s));
const dotSlash = (rel: string) => (rel === "." || rel.startsWith(".") ? rel : `./${rel}`);

function databaseBlock(db: DatabaseSource | undefined): string {
  if (!db)
    return `  // TODO: no migrations found. Point at a folder of SQL migrations, a command that migrates
  // $DATABASE_URL, or a pg_dump schema file.
  database: { migrations: "./migrations", postgres: "embedded" },`;
  if ("migrations" in db)
    return `  database: { migrations: ${q(db.migrations)}, postgres: "embedded" }, // ${db.layout}`;
  if ("migrate" in db && db.migrate === "service")
    return `  // The service migrates itself at start: the template is built by starting it once on it.
  database: { migrate: "service", postgres: "embedded" },`;
  if ("migrate" in db)
    return `  // ${db.tool}: the command runs with DATABASE_URL set to the template database.
  database: { migrate: ${q(db.migrate)}, postgres: "embedded" },`;
  return `  database: { schema: ${q(db.schema)}, postgres: "embedded" },`;
}

function serviceBlock(input: RenderInput): string {
  const s = input.service;
  const samples = (input.sampleEnv ?? []).map(
    (v) =>
      `\n      ${v.name}: ${q(v.value)}, // ${v.dummy ? "dummy; " : ""}from ${v.at.file}:${v.at.line}`,
  );
  const env = `({ databaseUrl, webhookSecret }) => ({
      ${input.databaseUrlEnv}: databaseUrl,
      ${input.webhookSecretEnv}: webhookSecret,${samples.join("")}
    })`;
  if (!s)
    return `  service: {
    // TODO: no start command found. A shell command line that starts your service on $PORT.
    command: 'exec node server.js',
    env: ${env},
    ready: { path: "/" },
    readyTimeout: 30_000,
    restart: "perScenario",
  },`;
  return `  service: {
    // Run with sh -c; the service must listen on $PORT (faultline sets PORT, DATABASE_URL and
    // STRIPE_WEBHOOK_SECRET, and the env below under your names).
    command: ${q(s.command)},
${s.cwd === "." ? "" : `    cwd: ${q(dotSlash(s.cwd))},\n`}    env: ${env},
    ready: { path: ${q(s.readyPath)} }, // ready once GET answers below 500
    readyTimeout: ${s.readyTimeout.toLocaleString("en-US").replaceAll(",", "_")},
${s.build ? `    build: ${q(s.build)}, // once per run\n` : ""}    restart: "perScenario",
  },`;
}

/** faultline.config.ts for the repository, from what was detected. */
export function renderConfig(input: RenderInput): string {
  const path = input.webhook?.path;
  const webhooks = path
    ? `  webhooks: { stripe: { path: ${q(path)} } },`
    : `  // TODO: the route your Stripe webhook handler is mounted at.
  webhooks: { stripe: { path: "/webhooks/stripe" } },`;
  return `// Written by \`faultline init\`: check the guesses marked below, then run \`npx faultline run\`.
import { defineConfig } from "faultline";

export default defineConfig({
${serviceBlock(input)}
${databaseBlock(input.database)}
${webhooks}
  scenarios: "./faultline",
});
`;
}

/** faultline/incident.scenario.ts: the incident pattern against this repository's schema. */
export function renderScenario(input: RenderInput): string {
  const drop = input.dropColumn;
  const where = drop?.evidence.map((e) => `${e.file}:${e.line}`).join(", ");
  const drift = drop
    ? `  // A column the webhook path reads or writes, guessed from
  //   ${where}
  // Production's schema has drifted and it is gone. Pick the column whose loss you must survive.
  drift: [dropColumn(${q(drop.value)})],`
    : `  // TODO: drop a column your webhook handler reads or writes ("table.column"); none was
  // found in the handler's SQL or ORM code, so this scenario drops nothing yet.
  drift: [
    // dropColumn("users.credits_balance"),
  ],`;
  const event = input.eventType.value;
  const checkout = event === "checkout.session.completed";
  const payment = (n: number, customer: string, email: string, credits: string, cents: number) =>
    `    webhook(
      ${q(event)},
      ${checkout ? `{ customer: ${q(customer)}, email: ${q(email)}, credits: ${q(credits)}, amount_total: ${cents} }` : `{ customer: ${q(customer)} }`},
      "payment-${n}",
    ),`;
  const eventNote = input.eventType.evidence[0]
    ? `  // ${event}: the event your handler names at ${input.eventType.evidence[0].file}:${input.eventType.evidence[0].line}\n`
    : "";
  return `/**
 * The incident pattern (written by \`faultline init\`): a column the payment webhook needs is
 * missing. The first payment fails on it; the handler must roll back its transaction and keep
 * going, so the next payment still succeeds, no statement runs in an aborted transaction
 * (25P02), and no pooled connection is left idle in an aborted transaction.
 */
import {
  defineScenario,
${drop ? "  dropColumn,\n" : ""}  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  webhook,
} from "faultline";

export default defineScenario({
  name: "incident",
  description: "a column the webhook path needs is missing; payments must keep flowing",
  randomSeed: 1,
${drift}
${eventNote}  webhooks: [
${payment(1, "cus_FaultlineFirst", "first@example.com", "500", 4900)}
${payment(2, "cus_FaultlineSecond", "second@example.com", "200", 1990)}
  ],
  invariants: [processingContinues(), noCascade(), noAbortedIdleConnections()],
});
`;
}
