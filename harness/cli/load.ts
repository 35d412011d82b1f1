import { existsSync } from "node:fs";
import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { shellWord } from "../report/markdown.ts";
import type { ServiceSpec } from "../service/index.ts";
import { type Command, withDocs } from "./command.ts";
import { parseCells } from "./flag-values.ts";
import { formatFlags, parseFlags, undocumented } from "./flags.ts";
import { loadProfile } from "./load-profile.ts";
import { prepareRun } from "./prepare-run.ts";
import { RUN_FLAGS, RUN_FLAGS_WIDTH } from "./run-flags.ts";

// Load reads run's flags too; its help lists only the report flags it reads its own way.
const { json, html, quiet, ...otherRunFlags } = undocumented(RUN_FLAGS);

const LOAD_FLAGS = {
  rate: {
    type: "string",
    value: "<n/s>",
    help: ["arrival rate: 200/s, 12000/m or 200 (per second)"],
  },
  duration: {
    type: "string",
    value: "<time>",
    help: ["how long it sends, ramp included: 60s, 1m30s, 500ms or 60 (seconds)"],
  },
  ramp: {
    type: "string",
    value: "<time>",
    help: ["rise linearly from 0 to --rate over this long first (default 0)"],
  },
  faults: {
    type: "string",
    value: "<scenario|none|file.json>",
    help: ["the proxy rules in force (default: the scenario's)"],
  },
  threshold: {
    type: "string",
    multiple: true,
    value: "<expr>",
    help: [
      "fail (exit 1) unless it holds, repeatable: p50|p90|p95|p99|p99.9|max|avg",
      "<|<=|>|>= <n>ms; errors<0.1%; rate>=190/s",
    ],
  },
  json: {
    ...json,
    value: "<file>",
    help: ["write the whole result as JSON (also when the service died mid-run)"],
  },
  html: {
    ...html,
    value: "<file>",
    help: ["the report: timeline, connection lanes, latency over time, verdicts"],
  },
  quiet: { ...quiet, help: ["no progress, only the result; --verbose as in run"] },
  ...otherRunFlags,
} as const;

/** What load does and its flags, as its help and the global usage say it. */
const LOAD_DESCRIPTION = `faultline load: an open-model load on one service (as run starts it) and one scenario database,
  through the proxy with the scenario's fault rules on. Requests go out on schedule whether or
  not earlier ones returned; latency counts from each request's intended send time. Each request
  is one of the scenario's fixture webhooks, templated fresh (new event ids and emails from
  --seed; ids and emails the scenario gives are made unique per request) and signed as its
  provider signs. A live progress line (every 5 s when not on a terminal); at the end: rates,
  p50/p90/p99/p99.9/max, statuses, SQLSTATEs from the trace, the proxy's share of a CPU core,
  and the invariants over every event sent: noCascade, the scenario's own event- and session-
  wide ones (noLostEvents, effectOnce, exactlyOnceEffect, rollsBackAfterError,
  noAbortedIdleConnections) and, when it names no effect invariant, the payments preset's
  noLostEvents and exactlyOnceEffect. Invariants about particular events are listed as not
  judged under load. A matrix scenario runs one cell: pick it with --cell axis=value.
${formatFlags(LOAD_FLAGS, RUN_FLAGS_WIDTH)}  Also --config, --service, --postgres, --migrations, --schema, --migrate, --seed, --cell,
  --ready-timeout as in run. Exit 1 when an invariant or threshold fails or the rate could not
  be held (more than 1% of requests, and at least 5, sent >10 ms late); 3 when the service
  died mid-run.
`;

/** Load's section of the global usage. */
export const LOAD_SECTION = `${LOAD_DESCRIPTION}  e.g. faultline load scenarios/credits-balance-hotfix.scenario.ts --rate 200/s --duration 60s \\
         --ramp 10s --threshold 'p99<300ms' --threshold 'errors<0.1%'
`;

const EXAMPLE = `  faultline load scenarios/credits-balance-hotfix.scenario.ts --cell schema="credits_balance missing" \\
    --rate 200/s --duration 60s --ramp 10s --threshold 'p99<300ms' --threshold 'errors<0.1%' \\
    --html load.html
`;

const HELP = withDocs(
  "docs/load.md",
  `Usage: faultline load <scenario> --rate 200/s --duration 60s [--ramp 30s] [--faults …]
                      [--threshold 'p99<300ms' …] [--html report.html] [--json load.json]

${LOAD_DESCRIPTION}
Example:
${EXAMPLE}`,
);

/** `faultline load`: an open-model load on one scenario, judged by invariants and thresholds. */
export const loadCommand: Command = {
  name: "load",
  summary: "an open-model load on one scenario, judged by its invariants and thresholds",
  flags: LOAD_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "void",
  async run(args, signal) {
    const { values, positionals } = parseFlags(args, LOAD_FLAGS, { positionals: true, help: HELP });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    for (const flag of ["junit", "summary", "trace-dir", "concurrency"] as const)
      if (values[flag] !== undefined)
        throw new BadUsageError(
          `load: --${flag} is for run and gate; load writes --json and --html`,
        );
    if (positionals.length !== 1)
      throw new BadUsageError(
        `load takes one scenario file; got ${positionals.length ? positionals.join(", ") : "none"}\n\n${HELP}`,
      );
    const load = await import("../load/index.ts");
    const { rate, durationMs, rampMs, thresholds } = await loadProfile(values);
    const faults =
      values.faults === undefined || values.faults === "scenario"
        ? ({ kind: "scenario" } as const)
        : values.faults === "none"
          ? ({ kind: "none" } as const)
          : ({ kind: "file", file: path.resolve(values.faults) } as const);
    if (faults.kind === "file" && !existsSync(faults.file))
      throw new BadUsageError(
        `--faults: ${values.faults} is not a file; expected scenario, none or a rules file (JSON)`,
      );
    const prepared = await prepareRun(values, positionals, signal, [values.service]);
    try {
      const { cellMatches, expandMatrix } = await import("../scenario/index.ts");
      const { newSeed } = await import("../random/index.ts");
      const loaded = prepared.scenarios[0];
      if (!loaded) throw new BadUsageError(`load: no scenario in ${positionals[0]}`);
      const only = parseCells(values.cell);
      const all = expandMatrix(loaded);
      const cells = all.filter((c) => cellMatches(c.cell, only));
      if (cells.length !== 1) {
        const listed = all
          .map((c) =>
            Object.entries(c.cell ?? {})
              .map(([axis, label]) => `--cell ${shellWord(`${axis}=${label}`)}`)
              .join(" "),
          )
          .map((line) => `  ${line}`)
          .join("\n");
        throw new BadUsageError(
          cells.length
            ? `load: ${loaded.file} has ${cells.length} matrix cells; a load runs one, pick it with --cell:\n${listed}`
            : `load: no cell of ${loaded.file} matches ${values.cell?.join(" ")}; its cells:\n${listed}`,
        );
      }
      const cell = cells[0] as (typeof cells)[number];
      const seed = prepared.options.seed ?? cell.scenario.randomSeed ?? newSeed();
      const [service] = await prepared.services;
      const { output } = prepared;
      const tty = Boolean(process.stdout.isTTY);
      let lastLine = 0;
      const result = await load.runLoad({
        environment: await prepared.environment,
        service: (service as { spec: ServiceSpec }).spec,
        scenario: cell,
        profile: { rate, durationMs, rampMs },
        seed,
        thresholds,
        faults,
        readyTimeoutMs: prepared.options.readyTimeoutMs,
        webhookPaths: prepared.options.webhookPaths,
        ...(prepared.options.stripeApiVersion
          ? { stripeApiVersion: prepared.options.stripeApiVersion }
          : {}),
        signal,
        keepReport: values.html !== undefined,
        onLine: output.progress,
        // On a terminal the line is redrawn in place; in a CI log, one line every 5 s.
        progressMs: tty ? 250 : 1000,
        onProgress: output.quiet
          ? undefined
          : (p) => {
              if (tty) process.stdout.write(`\r\x1b[2K${load.formatProgress(p)}`);
              else if (p.elapsedMs - lastLine >= 5000) {
                lastLine = p.elapsedMs;
                process.stdout.write(`faultline: ${load.formatProgress(p)}\n`);
              }
            },
      });
      if (tty && !output.quiet) process.stdout.write("\r\x1b[2K");
      process.stdout.write(load.formatResult(result, output));
      const report = await import("../report/index.ts");
      // Written whatever the verdict, a dead service included: the partial figures explain it.
      if (values.json)
        await report.writeReportFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
      if (values.html && result.report)
        await report.writeReportFile(
          values.html,
          report.toHtmlReport({
            title: `faultline load: ${result.scenario}`,
            sides: [
              {
                label: `${result.report.service} at ${rate}/s`,
                results: [result.report],
                latency: result.seconds.map(({ t, p50, p90, p99 }) => ({ t, p50, p90, p99 })),
                load: report.loadSummaryOf(result),
              },
            ],
          }),
        );
      return result.exitCode;
    } finally {
      await prepared.close();
    }
  },
};
