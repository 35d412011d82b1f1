import { type ConsoleOptions, styler } from "../terminal/index.ts";
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
  return `${(p.elapsedMs / 1000).toFixed(1)}s sent ${p.sent} acked ${p.acked} in flight ${p.inFlight} errors ${errors.length ? statuses(Object.fromEntries(errors)) : "0"} p50 ${ms(p.latency.p50)} p99 ${ms(p.latency.p99)} late ${p.late} dropped ${p.dropped}`;
}

/** A latency for people: 12.9ms, 0.45ms; the JSON keeps the microseconds. */
function ms(value: number): string {
  return `${value < 1 ? value.toFixed(2) : value.toFixed(1)}ms`;
}

const VERDICT_STYLE = { pass: "green", fail: "red", error: "yellow" } as const;

/**
 * The end-of-run report, one figure per line. `quiet` keeps the verdict and what failed;
 * `verbose` adds the evidence of the invariants that held.
 */
export function formatResult(r: LoadResult, options: ConsoleOptions = {}): string {
  const style = styler(options.colour ?? false);
  const mark = (passed: boolean) => (passed ? style("green", "✓") : style("red", "✗"));
  const l = r.load;
  const lines = [
    `load ${r.scenario}: ${style(VERDICT_STYLE[r.verdict], r.verdict.toUpperCase())} (seed ${r.seed})`,
  ];
  if (!options.quiet) {
    lines.push(
      `  rate       requested ${r.requestedRate}/s, sent ${l.sendRate.toFixed(1)}/s, achieved ${l.achievedRate.toFixed(1)}/s over ${(l.durationMs / 1000).toFixed(1)}s`,
      `  requests   ${l.scheduled} scheduled, ${l.sent} sent, ${l.acked} acked (2xx), ${r.errorPercent.toFixed(2)}% errors, ${l.late} late >10ms (${r.latePercent.toFixed(2)}%), ${l.dropped} dropped, ${l.inFlight} unfinished`,
      `  latency    p50 ${ms(l.latency.p50)}  p90 ${ms(l.latency.p90)}  p99 ${ms(l.latency.p99)}  p99.9 ${ms(l.latency["p99.9"])}  max ${ms(l.latency.max)} (from intended send time)`,
      `  statuses   ${statuses(l.byStatus) || "none"}`,
      `  sqlstates  ${
        Object.entries(r.sqlstates)
          .map(([s, n]) => `${s}×${n}`)
          .join(" ") || "none"
      } over ${r.statements} statements; ${r.faultsFired} fault(s) fired`,
    );
    if (r.proxy)
      lines.push(
        `  proxy      ${r.proxy.busyPercent.toFixed(1)}% of a CPU core (${Math.round(r.proxy.busyMs)} ms busy)${r.proxy.busyPercent >= 80 ? style("yellow", " — the proxy may be what limits this run") : ""}`,
      );
  }
  for (const v of r.invariants) {
    if (v.passed && options.quiet) continue;
    lines.push(`  ${mark(v.passed)} ${v.name}: ${v.seen}`);
    const shown = v.passed
      ? options.verbose
        ? v.evidence.slice(0, 5)
        : []
      : v.evidence.slice(0, 5);
    for (const e of shown) lines.push(`      ${e}`);
    if (!v.passed && v.evidence.length > 5) lines.push(`      … ${v.evidence.length - 5} more`);
  }
  if (r.notJudgedUnderLoad.length && !options.quiet)
    lines.push(
      `  - not judged under load (they name particular events): ${r.notJudgedUnderLoad.join(", ")}`,
    );
  for (const t of r.thresholds)
    if (!t.passed || !options.quiet)
      lines.push(`  ${mark(t.passed)} threshold ${t.threshold}: ${t.actual}`);
  if (r.rateNotHeld) lines.push(`  ${mark(false)} ${r.rateNotHeld}`);
  // Open model: a service that falls behind shows as latency and unanswered requests, which
  // only thresholds judge; say it plainly so a run without them is not read as healthy.
  if (!r.targetFailure && l.sent && l.achievedRate < 0.9 * l.sendRate)
    lines.push(
      `  ${style("yellow", "!")} the service fell behind: it answered ${l.achievedRate.toFixed(1)}/s of the ${l.sendRate.toFixed(1)}/s sent (${l.inFlight} unanswered at the end); add --threshold 'errors<1%' or 'p99<…' to fail on it`,
    );
  if (r.interrupted) lines.push(`  ${mark(false)} interrupted: results above are partial`);
  if (r.targetFailure) {
    lines.push(`  ${mark(false)} ${r.targetFailure.message}; results above are partial`);
    for (const o of r.targetFailure.output) lines.push(`      | ${o}`);
  }
  return `${lines.join("\n")}\n`;
}
