import { formatDisagreements, type ScenarioResult } from "../scenario/index.ts";
import { type ConsoleOptions, styler } from "../terminal/index.ts";
import type { Reporter } from "./reporter.ts";
import { testName } from "./test-name.ts";

const EVIDENCE_LINES = 8;
/** Characters of one evidence line on the console; --json keeps it whole. */
export const EVIDENCE_WIDTH = 200;

/**
 * One evidence line, its head kept and the rest cut with its length said: a service's 3 KB
 * upsert quoted in a 42703 line would otherwise fill the screen. Only the console cuts.
 */
export function capEvidence(line: string, width = EVIDENCE_WIDTH): string {
  if (line.length <= width) return line;
  return `${line.slice(0, width)}… (${line.length} chars; whole in --json)`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

const VERDICT_STYLE = { pass: "green", fail: "red", error: "yellow" } as const;

/** The line for one scenario, then its violations' evidence indented beneath it. */
export function formatScenarioResult(result: ScenarioResult, options: ConsoleOptions = {}): string {
  const style = styler(options.colour ?? false);
  const verdict = style(VERDICT_STYLE[result.verdict], result.verdict.toUpperCase().padEnd(5));
  const context = [
    result.service,
    ...result.drift,
    ...(result.faults.length ? [`${result.faults.length} fault(s) injected`] : []),
    // Where no server log is readable (an existing server), verdicts rest on the trace alone.
    ...(result.oracle === "proxy trace" ? ["evidence: proxy trace only"] : []),
    `seed ${result.seed}`,
  ];
  const name = testName(result);
  const title = `${verdict} ${name}  ${seconds(result.durationMs)}  [${context.join("; ")}]`;
  // A verdict whose witnesses disagree is suspect whatever it says: shown under every verdict.
  const witnesses = result.witnessDisagreements?.length
    ? [style("yellow", `    ! ${formatDisagreements(result.witnessDisagreements)}`)]
    : [];
  if (result.verdict === "pass") {
    const held = options.verbose ? result.invariants.map((r) => `    ✓ ${r.name}: ${r.seen}`) : [];
    return [title, ...witnesses, ...held].join("\n");
  }
  if (result.error)
    return `${title}  ${result.error.message.split("\n")[0]}${indentRest(result.error.message)}${result.replay ? `\n    replay: ${result.replay}` : ""}`;
  const violated = result.invariants.filter((r) => !r.passed);
  const lines = [`${title}  violated: ${violated.map((r) => r.name).join(", ")}`, ...witnesses];
  if (result.serviceExit) {
    lines.push(`    ! the service ${result.serviceExit.how} during the scenario; its last lines:`);
    for (const l of result.serviceExit.output.slice(-EVIDENCE_LINES))
      lines.push(`        ${capEvidence(l)}`);
  }
  for (const r of violated) {
    lines.push(style("red", `    ✗ ${r.name}: expected ${r.expected}; seen ${r.seen}`));
    for (const e of r.evidence.slice(0, EVIDENCE_LINES)) lines.push(`        ${capEvidence(e)}`);
    if (r.evidence.length > EVIDENCE_LINES)
      lines.push(`        … ${r.evidence.length - EVIDENCE_LINES} more (see --json)`);
  }
  if (result.replay) lines.push(`    replay: ${result.replay}`);
  return lines.join("\n");
}

function indentRest(message: string): string {
  const rest = message.split("\n").slice(1);
  return rest.length ? `\n${rest.map((l) => `    ${l}`).join("\n")}` : "";
}

/** Prints one line per scenario as it finishes, and a summary line at the end. */
export function consoleReporter(
  write: (text: string) => void = (t) => process.stdout.write(t),
  options: ConsoleOptions = {},
): Reporter {
  return {
    onRunStart(info) {
      if (options.quiet) return;
      const cells =
        info.cells !== info.scenarios
          ? ` (${info.cells} cells, ${info.concurrency} at a time)`
          : "";
      write(
        `faultline: ${info.scenarios} scenario(s)${cells} against ${info.service} on ${info.postgres}; seed ${info.seed}\n`,
      );
    },
    onScenarioResult(result) {
      write(`${formatScenarioResult(result, options)}\n`);
    },
    onRunEnd(summary) {
      const count = (v: string) => summary.results.filter((r) => r.verdict === v).length;
      write(
        `${count("pass")} passed, ${count("fail")} failed, ${count("error")} errored in ${seconds(summary.totalMs)} (Postgres and template ${seconds(summary.setupMs)})\n`,
      );
    },
  };
}
