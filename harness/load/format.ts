import type { LoadProgress } from "./generator.ts";
import type { LoadResult } from "./run.ts";

function statuses(byStatus: Record<string, number>): string {
  return Object.entries(byStatus)
    .sort((a, b) => b[1] - a[1])
    .map(([status, n]) => `${status}×${n}`)
    .join(" ");
}

/** The live progress line. */
export function formatProgress(p: LoadProgress): string {
  const errors = Object.entries(p.byStatus).filter(([s]) => !/^2\d\d$/.test(s));
  return `${(p.elapsedMs / 1000).toFixed(1)}s sent ${p.sent} acked ${p.acked} in flight ${p.inFlight} errors ${errors.length ? statuses(Object.fromEntries(errors)) : "0"} p50 ${p.latency.p50}ms p99 ${p.latency.p99}ms late ${p.late} dropped ${p.dropped}`;
}

/** The end-of-run report, one figure per line. */
export function formatResult(r: LoadResult): string {
  const l = r.load;
  const lines = [
    `load ${r.scenario}: ${r.verdict.toUpperCase()} (seed ${r.seed})`,
    `  rate       requested ${r.requestedRate}/s, sent ${l.sendRate.toFixed(1)}/s, achieved ${l.achievedRate.toFixed(1)}/s over ${(l.durationMs / 1000).toFixed(1)}s`,
    `  requests   ${l.scheduled} scheduled, ${l.sent} sent, ${l.acked} acked (2xx), ${r.errorPercent.toFixed(2)}% errors, ${l.late} late >10ms (${r.latePercent.toFixed(2)}%), ${l.dropped} dropped, ${l.inFlight} unfinished`,
    `  latency    p50 ${l.latency.p50}ms  p90 ${l.latency.p90}ms  p99 ${l.latency.p99}ms  p99.9 ${l.latency["p99.9"]}ms  max ${l.latency.max}ms (from intended send time)`,
    `  statuses   ${statuses(l.byStatus) || "none"}`,
    `  sqlstates  ${
      Object.entries(r.sqlstates)
        .map(([s, n]) => `${s}×${n}`)
        .join(" ") || "none"
    } over ${r.statements} statements; ${r.faultsFired} fault(s) fired`,
  ];
  for (const v of r.invariants) {
    lines.push(`  ${v.passed ? "✓" : "✗"} ${v.name}: ${v.seen}`);
    if (!v.passed) for (const e of v.evidence.slice(0, 5)) lines.push(`      ${e}`);
    if (!v.passed && v.evidence.length > 5) lines.push(`      … ${v.evidence.length - 5} more`);
  }
  for (const t of r.thresholds)
    lines.push(`  ${t.passed ? "✓" : "✗"} threshold ${t.threshold}: ${t.actual}`);
  if (r.rateNotHeld) lines.push(`  ✗ ${r.rateNotHeld}`);
  if (r.targetFailure) {
    lines.push(`  ✗ ${r.targetFailure.message}; results above are partial`);
    for (const o of r.targetFailure.output) lines.push(`      | ${o}`);
  }
  return `${lines.join("\n")}\n`;
}
