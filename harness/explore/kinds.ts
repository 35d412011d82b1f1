import type { DriftStep } from "../postgres/index.ts";
import { type RuleSpec, rawSqlPattern } from "../proxy/index.ts";
import type { InvariantSpec, Scenario } from "../scenario/index.ts";

export type WebhookStep = Scenario["webhooks"][number];

/** A statement the service ran in the clean run, where a fault can be injected. */
export interface StatementSite {
  /** The trace's normalised SQL (literals as `?`). */
  sql: string;
  kind: string;
  /** Which occurrence of this SQL in the clean run (1 for the first). */
  occurrence: number;
  /** Whether it ran inside a transaction block. */
  inTransaction: boolean;
}

/** One fault to try: proxy rules, drift, or both, and a label for reports. */
export interface CandidateFault {
  kind: string;
  /** The site or column it is aimed at, as reports show it. */
  target: string;
  rules: RuleSpec[];
  drift: DriftStep[];
  /** The scenario's webhooks as this candidate delivers them (a delivery kind); else as written. */
  webhooks?: WebhookStep[];
  /** Invariants judged besides the scenario's and the generic ones (a duplicate: idempotent). */
  invariants?: InvariantSpec[];
  /** Invariants that, failing under this candidate, are harm (beyond the generic harmful ones). */
  harms?: string[];
  /** 2 when it is a first fault followed by the provider's retry and, maybe, the retry's fault. */
  depth?: 1 | 2;
  /**
   * Aimed at the service's startup: a service that will not start under it fails safe (nothing
   * is acknowledged while it is down; the provider retries) rather than leaving it unjudged.
   */
  atStartup?: true;
}

/**
 * A fault kind of the catalogue: each says, for a statement site or a column on the service's
 * path, the fault it injects there (or nothing when the kind does not apply), as faults and
 * invariants are small values behind one interface.
 */
export interface FaultKind {
  name: string;
  /** One line for `--faults` and the report. */
  summary: string;
  atSite?(site: StatementSite, index: number): CandidateFault | undefined;
  atColumn?(column: string): CandidateFault | undefined;
  atTable?(table: string): CandidateFault | undefined;
  /**
   * Drift seen through a statement (42703, 42P01): tried only where the statement names one of
   * the schema's own tables. The system catalog a driver reads (pg_type, information_schema)
   * does not drift.
   */
  throughSchema?: true;
  /** Variations of how the scenario's webhooks are delivered: each one candidate. */
  atDelivery?(webhooks: WebhookStep[]): CandidateFault[];
  /** Once per scenario: a fault at the connection level, not tied to a statement. */
  atConnect?(): CandidateFault | undefined;
}

/** How reports name a statement site. */
export const siteLabel = (site: StatementSite) =>
  `${site.sql}${site.occurrence > 1 ? ` (occurrence ${site.occurrence})` : ""}`;

function siteKind(
  name: string,
  fault: RuleSpec["fault"],
  summary: string,
  applies: (site: StatementSite) => boolean,
): FaultKind {
  return {
    name,
    summary,
    atSite(site, index) {
      if (!applies(site)) return undefined;
      return {
        kind: name,
        target: siteLabel(site),
        drift: [],
        rules: [
          {
            name: `explore-${index}-${name}`,
            match: { sqlRegex: rawSqlPattern(site.sql), nth: site.occurrence },
            fault,
          },
        ],
      };
    },
  };
}

function sqlErrorKind(
  name: string,
  sqlstate: string,
  message: string,
  summary: string,
  applies: (site: StatementSite) => boolean,
): FaultKind {
  return siteKind(name, { type: "sqlError", sqlstate, message }, summary, applies);
}

const isSingle = (step: WebhookStep) =>
  ("fixture" in step && step.fixture !== undefined) ||
  ("recorded" in step && step.recorded !== undefined);

/** How reports name a webhook step: its position and what it sends. */
export function webhookLabel(step: WebhookStep, index: number): string {
  const what =
    ("as" in step && step.as) ||
    ("fixture" in step && step.fixture) ||
    ("recorded" in step && step.recorded) ||
    ("redeliver" in step && `redeliver ${step.redeliver}`) ||
    "step";
  return `webhook ${index + 1} (${what})`;
}

function delivered(kind: string, target: string, webhooks: WebhookStep[]): CandidateFault {
  return { kind, target, rules: [], drift: [], webhooks };
}

const isData = (site: StatementSite) =>
  ["SELECT", "INSERT", "UPDATE", "DELETE"].includes(site.kind);
const isWrite = (site: StatementSite) => ["INSERT", "UPDATE", "DELETE"].includes(site.kind);

/** The catalogue, in the order candidates are tried at each site. */
export const FAULT_KINDS: FaultKind[] = [
  {
    ...sqlErrorKind(
      "undefined-column",
      "42703",
      "column does not exist (injected by faultline explore)",
      "42703 at a statement: a column the statement names is missing (drift seen through it)",
      isData,
    ),
    throughSchema: true,
  },
  {
    ...sqlErrorKind(
      "undefined-table",
      "42P01",
      "relation does not exist (injected by faultline explore)",
      "42P01 at a statement: a table the statement names is missing",
      isData,
    ),
    throughSchema: true,
  },
  sqlErrorKind(
    "unique-violation",
    "23505",
    "duplicate key value violates unique constraint (injected by faultline explore)",
    "23505 on an INSERT: the insert half of find-or-create lost a race",
    (site) => site.kind === "INSERT",
  ),
  sqlErrorKind(
    "serialization-failure",
    "40001",
    "could not serialize access due to concurrent update (injected by faultline explore)",
    "40001 at a statement in a transaction",
    // Not at COMMIT yet: the proxy raises in place of the statement, which aborts the
    // transaction but does not end it as a failed COMMIT does, so the service would be blamed
    // for the proxy's unfaithfulness.
    (site) => site.inTransaction && isData(site),
  ),
  sqlErrorKind(
    "deadlock",
    "40P01",
    "deadlock detected (injected by faultline explore)",
    "40P01 at a write in a transaction",
    (site) => site.inTransaction && ["INSERT", "UPDATE", "DELETE"].includes(site.kind),
  ),
  sqlErrorKind(
    "statement-timeout",
    "57014",
    "canceling statement due to statement timeout (injected by faultline explore)",
    "57014 at a statement: it ran past statement_timeout",
    isData,
  ),
  siteKind(
    "connection-cut",
    { type: "resetConnection", when: "before" },
    "the connection drops just before a statement (a failover, a restarted pooler)",
    (site) => isData(site) || site.kind === "COMMIT",
  ),
  siteKind(
    "reply-lost",
    { type: "resetConnection", when: "after" },
    "a write or COMMIT ran but its reply never came back: did it happen?",
    (site) => site.kind === "COMMIT" || (isWrite(site) && !site.inTransaction),
  ),
  siteKind(
    "terminate-backend",
    { type: "terminateBackend" },
    "the server ends the session (57P01) at a statement in a transaction",
    (site) => site.inTransaction && isData(site),
  ),
  {
    name: "connection-refused",
    summary: "the first new connection is refused at startup (53300, too many clients)",
    atConnect() {
      return {
        kind: "connection-refused",
        target: "first new connection",
        atStartup: true,
        drift: [],
        rules: [
          {
            name: "explore-connection-refused",
            match: {},
            fault: { type: "refuseConnections", count: 1 },
          },
        ],
      };
    },
  },
  {
    name: "drop-column",
    summary: "a column the path reads or writes is missing from the schema (the incident itself)",
    atColumn(column) {
      return { kind: "drop-column", target: column, rules: [], drift: [{ dropColumn: column }] };
    },
  },
  {
    name: "rename-column",
    summary: "a column of the path renamed by a migration the code does not know (NOT NULL kept)",
    atColumn(column) {
      const bare = column.slice(column.lastIndexOf(".") + 1);
      return {
        kind: "rename-column",
        target: column,
        rules: [],
        drift: [{ renameColumn: column, to: `${bare}_renamed` }],
      };
    },
  },
  {
    name: "drop-table",
    summary: "a table the path uses is missing from the schema",
    atTable(table) {
      return { kind: "drop-table", target: table, rules: [], drift: [{ dropTable: table }] };
    },
  },
  {
    name: "duplicate-delivery",
    summary: "a webhook delivered twice, the second after the first was answered",
    atDelivery(webhooks) {
      return webhooks.flatMap((step, i) => {
        // A delivery signed wrong on purpose is refused both times: nothing to be idempotent about.
        if (!isSingle(step) || ("signature" in step && step.signature)) return [];
        const as = ("as" in step && step.as) || `explore-duplicate-${i + 1}`;
        const steps = [...webhooks];
        steps.splice(i, 1, { ...step, as } as WebhookStep, { redeliver: as } as WebhookStep);
        return [
          {
            ...delivered("duplicate-delivery", webhookLabel(step, i), steps),
            // Stamping updated_at again is no double effect; crediting twice is.
            invariants: [{ invariant: "idempotent", allowStamps: true } as InvariantSpec],
            harms: ["idempotent"],
          },
        ];
      });
    },
  },
  {
    name: "reorder",
    summary: "two adjacent webhooks delivered in the other order",
    atDelivery(webhooks) {
      return webhooks.flatMap((step, i) => {
        const next = webhooks[i + 1];
        if (!next || !isSingle(step) || !isSingle(next)) return [];
        const steps = [...webhooks];
        steps.splice(i, 2, next, step);
        return [
          delivered("reorder", `${webhookLabel(step, i)} ⇄ ${webhookLabel(next, i + 1)}`, steps),
        ];
      });
    },
  },
  {
    name: "concurrent-batch",
    summary: "consecutive webhooks delivered all at once",
    atDelivery(webhooks) {
      const found: CandidateFault[] = [];
      let start = 0;
      while (start < webhooks.length) {
        let end = start;
        while (end < webhooks.length && isSingle(webhooks[end] as WebhookStep)) end++;
        if (end - start >= 2) {
          const steps = [
            ...webhooks.slice(0, start),
            { batch: webhooks.slice(start, end), order: "concurrent" } as WebhookStep,
            ...webhooks.slice(end),
          ];
          found.push(delivered("concurrent-batch", `webhooks ${start + 1}–${end} at once`, steps));
        }
        start = end + 1;
      }
      return found;
    },
  },
];

export const FAULT_KIND_NAMES = FAULT_KINDS.map((k) => k.name);
