/**
 * The two witnesses of a run checked against each other: the per-SQLSTATE counts of errors in
 * the proxy's trace and in Postgres's own log, for the same database over the same scenario.
 * Every error the server sent a client of the service went through the proxy, so the counts must
 * be equal; where they are not, one witness missed something — a bug of faultline's that users
 * must see rather than a quiet verdict resting on it.
 */
import type { ServerError } from "../postgres/index.ts";
import { isError, type TraceEntry } from "../proxy/index.ts";

/** One SQLSTATE the two witnesses count differently. */
export interface WitnessDisagreement {
  sqlstate: string;
  trace: number;
  serverLog: number;
}

/**
 * Errors the server logs that never reach a client: it raises them once the client has gone
 * (a connection the proxy cut, a client that hung up mid-query).
 */
const NEVER_SENT =
  /connection to client lost|unexpected EOF on client connection|could not receive data from client/;

/** Errors per SQLSTATE, most frequent first (then by code). */
export function countBySqlstate(codes: Iterable<string>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** Per-SQLSTATE counts of the errors the server log says it sent the service's sessions. */
export function serverLogSqlstates(errors: ServerError[]): Record<string, number> {
  return countBySqlstate(
    errors.filter((e) => e.sqlstate && !NEVER_SENT.test(e.message)).map((e) => e.sqlstate),
  );
}

/** Per-SQLSTATE counts of the errors in the trace. */
export function traceSqlstates(trace: TraceEntry[]): Record<string, number> {
  return countBySqlstate(trace.flatMap((e) => (isError(e) ? [e.result.sqlstate] : [])));
}

/** The SQLSTATEs the two counts disagree on, in code order (empty when they agree). */
export function compareWitnesses(
  trace: Record<string, number>,
  serverLog: Record<string, number>,
): WitnessDisagreement[] {
  const codes = [...new Set([...Object.keys(trace), ...Object.keys(serverLog)])].sort();
  return codes
    .map((sqlstate) => ({
      sqlstate,
      trace: trace[sqlstate] ?? 0,
      serverLog: serverLog[sqlstate] ?? 0,
    }))
    .filter((d) => d.trace !== d.serverLog);
}

/** The one line a report gives a disagreement. */
export function formatDisagreements(disagreements: WitnessDisagreement[]): string {
  const parts = disagreements.map(
    (d) => `${d.sqlstate}: ${d.trace} in the proxy trace, ${d.serverLog} in the server log`,
  );
  return `the proxy trace and the server log disagree (${parts.join("; ")}) — a faultline bug, please report it`;
}
