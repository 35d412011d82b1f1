import type { DriftStep } from "../postgres/index.ts";
import type { RuleSpec } from "../proxy/index.ts";

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
}

const ESCAPE = /[.*+?^${}()|[\]\\]/g;

/**
 * A regex that matches the raw SQL the service sends for a normalised SQL text: whitespace
 * runs as any whitespace, each `?` (a literal the trace hid) as any literal.
 */
export function rawSqlPattern(normalised: string): string {
  const parts = normalised
    .trim()
    .split("?")
    .map((part) => part.replace(ESCAPE, "\\$&").replace(/\s+/g, "\\s+"));
  return `^\\s*${parts.join("(?:'(?:[^']|'')*'|[^\\s,()]+)")}\\s*;?\\s*$`;
}

function sqlErrorKind(
  name: string,
  sqlstate: string,
  message: string,
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
        target: `${site.sql}${site.occurrence > 1 ? ` (occurrence ${site.occurrence})` : ""}`,
        drift: [],
        rules: [
          {
            name: `explore-${index}-${name}`,
            match: { sqlRegex: rawSqlPattern(site.sql), nth: site.occurrence },
            fault: { type: "sqlError", sqlstate, message },
          },
        ],
      };
    },
  };
}

const isData = (site: StatementSite) =>
  ["SELECT", "INSERT", "UPDATE", "DELETE"].includes(site.kind);

/** The catalogue, in the order candidates are tried at each site. */
export const FAULT_KINDS: FaultKind[] = [
  sqlErrorKind(
    "undefined-column",
    "42703",
    "column does not exist (injected by faultline explore)",
    "42703 at a statement: a column the statement names is missing (drift seen through it)",
    isData,
  ),
  sqlErrorKind(
    "undefined-table",
    "42P01",
    "relation does not exist (injected by faultline explore)",
    "42P01 at a statement: a table the statement names is missing",
    isData,
  ),
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
  {
    name: "drop-column",
    summary: "a column the path reads or writes is missing from the schema (the incident itself)",
    atColumn(column) {
      return { kind: "drop-column", target: column, rules: [], drift: [{ dropColumn: column }] };
    },
  },
];

export const FAULT_KIND_NAMES = FAULT_KINDS.map((k) => k.name);
