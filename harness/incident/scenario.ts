import path from "node:path";
import { normaliseSql, rawSqlPattern } from "../proxy/index.ts";
import { freeScenarioPath, writeScenarioFile } from "../scenario/index.ts";
import type { EventMention, LogError } from "./log.ts";
import { type Incident, summarise } from "./reconstruct.ts";

/** A recorded webhook the incident may be matched to (`--fixtures DIR`). */
export interface RecordedWebhook {
  /** The `.body` file. */
  file: string;
  eventId: string | null;
  type: string | null;
}

export interface ScenarioOptions {
  /** Where the file goes; a taken name gets `-2`, `-3`, … (never overwritten). */
  out: string;
  /** The provider's stock fixture names, for events the logs name by type. */
  stockFixtures: readonly string[];
  recorded: RecordedWebhook[];
  /** When the logs name no event: the fixture the project's own scenarios send first. */
  defaultFixture: { fixture: string; from: string };
  /** noLostEvents as the project's scenarios judge it, or why it is left out. */
  noLostEvents: { spec: Record<string, unknown> } | { omitted: string };
  command: string;
}

export interface WrittenIncident {
  file: string;
  summary: string[];
  inferred: string[];
  readFrom: string[];
}

const MENTION_WINDOW_MS = 5 * 60_000;

/**
 * A proxy rule's regex for a statement as the log quotes it: normalised as the trace does (its
 * literals hidden), so other literals and `$n` parameters match as well.
 */
export const statementPattern = (statement: string) =>
  rawSqlPattern(normaliseSql(statement.trim().replace(/;\s*$/, "")));

/** The proxy fault a logged error that drift cannot explain comes back as. */
function faultFor(sqlstate: string, message: string): Record<string, unknown> {
  if (sqlstate === "57P01") return { type: "terminateBackend" };
  if (sqlstate === "08006") return { type: "resetConnection", when: "before" };
  if (sqlstate === "53300") return { type: "refuseConnections", count: 1 };
  return { type: "sqlError", sqlstate, message };
}

const where = (e: LogError) => `${e.file}:${e.line}`;

/** The webhooks the logs name around the incident, matched to recorded or stock fixtures. */
function webhooksFor(
  incidents: Incident[],
  mentions: EventMention[],
  options: ScenarioOptions,
  scenarioDir: string,
  inferred: string[],
): Record<string, unknown>[] {
  const firsts = incidents.map((i) => i.first?.getTime()).filter((t) => t !== undefined);
  const lasts = incidents.map((i) => i.last?.getTime()).filter((t) => t !== undefined);
  const from = firsts.length ? Math.min(...firsts) - MENTION_WINDOW_MS : -Infinity;
  const to = lasts.length ? Math.max(...lasts) + MENTION_WINDOW_MS : Infinity;
  const near = mentions.filter((m) => !m.at || (m.at.getTime() >= from && m.at.getTime() <= to));
  const seen = new Set<string>();
  const steps: Record<string, unknown>[] = [];
  const used = new Set<RecordedWebhook>();
  for (const m of near) {
    const id = m.eventId ?? `${m.type}@${m.file}:${m.line}`;
    if (seen.has(id)) continue;
    // An id without a type: its type may come on another line that names both.
    const type = m.type ?? near.find((o) => o.eventId === m.eventId && o.type)?.type;
    // By id; else by type, each recorded payload once.
    const recorded =
      (m.eventId && options.recorded.find((r) => r.eventId === m.eventId)) ||
      (!m.eventId && type
        ? options.recorded.find((r) => r.type === type && !used.has(r))
        : undefined);
    if (recorded) {
      seen.add(id);
      used.add(recorded);
      steps.push({
        recorded: path.relative(scenarioDir, recorded.file.replace(/\.body$/, "")),
      });
      continue;
    }
    if (type && options.stockFixtures.includes(type)) {
      seen.add(id);
      if (m.eventId)
        inferred.push(
          `${m.eventId}: no recorded payload with that id; the stock ${type} fixture stands in`,
        );
      steps.push({ fixture: type });
    }
  }
  if (steps.length) return steps;
  const affected = incidents.reduce((n, i) => n + i.roots.length, 0);
  const count = Math.min(10, Math.max(2, affected + 1));
  inferred.push(
    `the webhooks: the logs name no event, so ${count} × ${options.defaultFixture.fixture} (${options.defaultFixture.from}) — one more than the ${affected} failing, so processingContinues sees the next payment`,
  );
  return Array.from({ length: count }, () => ({ fixture: options.defaultFixture.fixture }));
}

/** Writes one scenario that reproduces `incidents` (one, or several the user chose to combine). */
export async function writeIncidentScenario(
  incidents: Incident[],
  mentions: EventMention[],
  options: ScenarioOptions,
): Promise<WrittenIncident> {
  const inferred: string[] = [];
  const notes: string[] = [];
  const drift: Record<string, unknown>[] = [];
  const rules: Record<string, unknown>[] = [];
  for (const incident of incidents) {
    const root = incident.roots[0] as LogError;
    if (root.sqlstateFrom === "message")
      inferred.push(
        `${where(root)}: SQLSTATE ${incident.sqlstate} from the message's words (the log has no %e)`,
      );
    if (root.sqlstateFrom === "exception class")
      inferred.push(
        `${where(root)}: SQLSTATE ${incident.sqlstate} from the driver's exception class`,
      );
    const missing = incident.missing;
    if (missing?.kind === "column") {
      if (missing.known && missing.table)
        drift.push({ dropColumn: `${missing.table}.${missing.column}` });
      else
        notes.push(
          `The column ${missing.table ? `${missing.table}.` : ""}${missing.column} is unknown to the migrations (${missing.how}): no drift written for it. Is production ahead of them, or the log another database's?`,
        );
      if (missing.how.startsWith("inferred")) inferred.push(`the column's table: ${missing.how}`);
    } else if (missing?.kind === "table") {
      if (missing.known) drift.push({ dropTable: missing.table });
      else
        notes.push(
          `The table ${missing.table} is unknown to the migrations: no drift written for it.`,
        );
    } else if (incident.sqlstate !== "42703" && incident.sqlstate !== "42P01") {
      const match = incident.statement
        ? { sqlRegex: statementPattern(incident.statement), nth: 1 }
        : { sqlRegex: "^\\s*(?:SELECT|INSERT|UPDATE|DELETE)\\b", nth: 1 };
      if (!incident.statement)
        inferred.push(
          `${incident.sqlstate}: the log has no STATEMENT, so the fault hits the first data statement`,
        );
      rules.push({
        name: `incident-${incident.sqlstate}`,
        match,
        fault: faultFor(incident.sqlstate, root.message),
      });
    }
  }
  const firstAt = incidents.map((i) => i.first).find(Boolean);
  const date = (firstAt ?? new Date()).toISOString().slice(0, 10);
  const file = freeScenarioPath(path.resolve(options.out));
  const name = path.basename(file, ".scenario.ts");
  const webhooks = webhooksFor(incidents, mentions, options, path.dirname(file), inferred);
  const invariants: Record<string, unknown>[] = [
    { invariant: "noCascade" },
    { invariant: "processingContinues" },
    { invariant: "noAbortedIdleConnections" },
  ];
  if ("spec" in options.noLostEvents) invariants.push(options.noLostEvents.spec);
  else notes.push(`noLostEvents left out: ${options.noLostEvents.omitted}`);
  const summary = incidents.flatMap((i) => summarise(i, mentions));
  const readFrom = [...new Set(incidents.flatMap((i) => [...i.roots, ...i.aborted].map(where)))];
  const scenario = {
    name,
    description: `reproduces the incident of ${date}: ${incidents.map((i) => i.key).join("; ")}`,
    drift,
    webhooks,
    ...(rules.length ? { faults: { rules } } : {}),
    invariants,
  };
  const shown =
    readFrom.slice(0, 12).join(", ") +
    (readFrom.length > 12 ? `, … ${readFrom.length - 12} more` : "");
  const header = [
    firstAt
      ? `Incident of ${date}, rebuilt by \`faultline incident\` from the logs:`
      : `Incident rebuilt by \`faultline incident\` on ${date} from logs that give no times:`,
    ...summary.map((s) => `  ${s}`),
    `Read from: ${shown}`,
    ...(inferred.length ? ["Inferred, not read:", ...inferred.map((s) => `  - ${s}`)] : []),
    ...notes,
    `Rebuilt with: ${options.command}`,
    "Run it: npx faultline run <this file> — it fails while the service has the bug, passes once fixed.",
  ];
  await writeScenarioFile(file, header, scenario);
  return { file, summary: [...summary, ...notes], inferred, readFrom };
}
