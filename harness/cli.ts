import { setMaxListeners } from "node:events";
import { existsSync } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { BadUsageError, exitCodeFor, InterruptedError } from "./errors.ts";
import { faultlineVersion, runExitHooksNow, watchParent } from "./lifecycle/index.ts";
import { resolvePostgresProvider, startEnvironment } from "./postgres/index.ts";
import type { Reporter } from "./report/index.ts";
import { shellWord } from "./report/markdown.ts";
import type { ScenarioResult } from "./scenario/index.ts";
import type { ServiceSpec } from "./service/index.ts";
// Inner files, not report/index.ts: these two are needed before any command's heavy imports.
import { colourFor } from "./terminal/index.ts";

// The names --service accepts without a command line (kept here so --help needs no imports).
const BUNDLED_SERVICES = ["payments:fixed", "payments:broken"];

const USAGE = `Usage: faultline run [files, folders or globs…] [options]
       faultline gate [files, folders or globs…] --baseline <service> --candidate <service> [options]
       faultline load <scenario> --rate 200/s --duration 60s [--ramp 30s] [--faults …] [--threshold …]
       faultline init [dir] [--check]
       faultline postgres fetch <major>
       faultline proxy --upstream <postgres://host:port> [options]
       faultline record --forward <http://service> --out <dir> [--listen host:port]
       faultline import stripe-events <events.json> [--out <dir>]
       faultline replay <dir> --to <http://service> --provider <name> --secret <secret>
                        [--policy inOrder|shuffled|concurrent|duplicated] [--seed n]
       faultline k6 <scenario> [--out load.js] [--rate 200/s] [--duration 60s] [--ramp 30s]
                        [--threshold 'p99<300ms' …]
       faultline <command> --help   (each command's options and an example)

Runs scenarios (*.scenario.ts) against a service under test, each on its own database cloned
from a migrated template on a Postgres faultline starts. The service, schema, Postgres and
routes come from faultline.config.ts (.mjs, .js) in the current folder or a parent; with no
config, the bundled payments example. With no files, runs the config's scenarios, else
scenarios/ in the current folder.

Options:
  --config <file>           the config file (default: faultline.config.* here or in a parent)
  --service <name|command>  a bundled service (${BUNDLED_SERVICES.join(", ")}; default
                            payments:fixed) or a shell command line that starts your service
                            (replaces service.command and keeps the rest of the config's
                            service block); it gets DATABASE_URL, PORT and STRIPE_WEBHOOK_SECRET
  --postgres <provider>     embedded (default), embedded:<major>, container[:image] or
                            url:postgres://… (replaces database.postgres)
  --allow-remote            allow a url: server that is not on this machine's loopback
  --migrations <dir>        the schema from a migrations folder (plain, drizzle-kit, Prisma,
                            Flyway, golang-migrate, dbmate), replacing the config's
  --schema <file>           the schema from a pg_dump --schema-only file
  --migrate <command>       the schema made by your migrate command (run in this folder with
                            DATABASE_URL set)
  --no-template-cache       migrate afresh instead of starting from the cached template
  --json <file>             write the full results as JSON
  --junit <file>            write JUnit XML
  --summary <file>          append a one-screen Markdown summary (e.g. "$GITHUB_STEP_SUMMARY")
  --html <file>             write a self-contained HTML report: timeline, connection lanes, verdicts
  --seed <n>                seed for ids, delivery order and probabilistic faults (default: each
                            scenario's randomSeed, else a new seed the run prints)
  --concurrency <n>         how many scenario cells run at once (default 4 here; 1 = one by one)
  --cell <axis=value>       only the matrix cells with that value (repeatable), e.g.
                            --cell "schema=credits_balance missing"
  --ready-timeout <ms>      how long the service may take to become ready (default 15000)
  --trace-dir <dir>         keep each scenario's proxy trace there as <scenario>.ndjson
  -q, --quiet               print only the verdict lines and errors
  --verbose                 also print progress details: the scenario files, how long Postgres
                            and the template took, every invariant that held
  -h, --help                show this help

Exit codes: 0 all passed, 1 an invariant failed, 2 bad usage or bad scenario,
            3 infrastructure failed (Postgres or the service did not start)

faultline gate: prove a fix. Runs every scenario (every cell of its matrix) against the service
  before the fix (--baseline) and after it (--candidate), same seed on both sides, each cell on
  its own database, and takes run's options. A scenario proves the fix when it fails on the
  baseline and passes on the candidate; regresses when it passes on the baseline and fails on
  the candidate; is not fixed when it fails on both; does not reproduce when it passes on both
  (what a scenario marked mustPassOnBaseline must do). Exit 0 only when every scenario proves
  the fix or is a guard that passes on both; 1 otherwise; 2 and 3 as in run.
  --baseline <service>      a bundled name or the command line of the code before the fix
  --candidate <service>     the same for the code with the fix; with a faultline.config.ts, both
                            replace service.command and keep the rest of the service block
  e.g. faultline gate scenarios/credits-balance-hotfix.scenario.ts \\
         --baseline payments:broken --candidate payments:fixed --junit gate.xml

faultline proxy: a fault-injecting Postgres proxy in front of any Postgres, until Ctrl-C.
  --upstream <url>          the real server, postgres://host:port (user and database come
                            from each client)
  --listen <host:port>      where to listen (default 127.0.0.1:6543)
  --rules <file.json>       { "seed": 7, "rules": [{ "name", "match": {…}, "fault": {…} }] }
  --trace <file.ndjson>     append every statement of every connection
  --seed <n>                seed for probabilistic rules (overrides the file's)
  --allow-remote-upstream   allow an upstream that is not on this machine's loopback

faultline load: an open-model load on one service (as run starts it) and one scenario database,
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
  --rate <n/s>              arrival rate: 200/s, 12000/m or 200 (per second)
  --duration <time>         how long it sends, ramp included: 60s, 1m30s, 500ms or 60 (seconds)
  --ramp <time>             rise linearly from 0 to --rate over this long first (default 0)
  --faults <scenario|none|file.json>  the proxy rules in force (default: the scenario's)
  --threshold <expr>        fail (exit 1) unless it holds, repeatable: p50|p90|p95|p99|p99.9|max|avg
                            <|<=|>|>= <n>ms; errors<0.1%; rate>=190/s
  --json <file>             write the whole result as JSON (also when the service died mid-run)
  --html <file>             the report: timeline, connection lanes, latency over time, verdicts
  -q, --quiet               no progress, only the result; --verbose as in run
  Also --config, --service, --postgres, --migrations, --schema, --migrate, --seed, --cell,
  --ready-timeout as in run. Exit 1 when an invariant or threshold fails or the rate could not
  be held (more than 1% of requests, and at least 5, sent >10 ms late); 3 when the service
  died mid-run.
  e.g. faultline load scenarios/credits-balance-hotfix.scenario.ts --rate 200/s --duration 60s \\
         --ramp 10s --threshold 'p99<300ms' --threshold 'errors<0.1%'

faultline init: detect the service, migrations, Stripe webhook route and env variables in dir
  (default: the current folder), write faultline.config.ts and faultline/incident.scenario.ts
  (existing files are kept) and print each guess with the file:line it came from.
faultline postgres fetch <major>: download Postgres <major> (15–18) for --postgres embedded:<major>
  into ~/.cache/faultline/postgres (FAULTLINE_POSTGRES_CACHE), so later runs need no network.
faultline record: a reverse proxy in front of your service that saves each request's raw body
  and headers as a fixture (emails, names, card fingerprints replaced by stable fakes; signature
  headers dropped — replay re-signs), until Ctrl-C. --no-scrub keeps the data as it came.
faultline import stripe-events: an exported Stripe event list ({ "object": "list", "data": […] })
  into the same fixtures. faultline replay: send every fixture in a folder, re-signed as the
  provider signs (stripe, standard, github, shopify, paddle, lemonsqueezy): recorded pairs
  (NNN-name.body + .json) byte for byte, then stock templates (<event>.json, as in
  fixtures/webhooks/<provider>/) filled from --seed (printed; default a new one); exit 0 when
  every delivery got a 2xx, 1 otherwise, 2 when the folder has nothing to send.
faultline k6: write the scenario's webhooks as a k6 script (arrival-rate scenario, thresholds,
  signatures made with k6/crypto, fresh ids per iteration, handleSummary) for \`k6 run\` or the
  k6 operator; see faultline k6 --help.

Colour only on a terminal, never with NO_COLOR set.
`;

const RUN_EXAMPLE = `Examples:
  faultline run                                   # the config's scenarios, else scenarios/
  faultline run scenarios/credits-balance-missing.scenario.ts --service payments:broken
  faultline run --junit results.xml --summary "$GITHUB_STEP_SUMMARY" --quiet
`;

/** Each command's own --help: what it does, its options, an example. */
const COMMAND_HELP: Record<string, string> = {
  run: `Usage: faultline run [files, folders or globs…] [options]

${USAGE.slice(USAGE.indexOf("Runs scenarios"), USAGE.indexOf("faultline gate: prove"))}${RUN_EXAMPLE}`,
  gate: `Usage: faultline gate [files, folders or globs…] --baseline <service> --candidate <service> [options]

${USAGE.slice(USAGE.indexOf("faultline gate: prove"), USAGE.indexOf("  e.g. faultline gate"))}
Takes every option of faultline run (faultline run --help), among them --quiet and --verbose.

Example:
  faultline gate scenarios/credits-balance-hotfix.scenario.ts \\
    --baseline payments:broken --candidate payments:fixed --junit gate.xml
`,
  proxy: `Usage: faultline proxy --upstream <postgres://host:port> [options]

${USAGE.slice(USAGE.indexOf("faultline proxy: a fault"), USAGE.indexOf("faultline init: detect"))}
Example:
  faultline proxy --upstream postgres://127.0.0.1:5432 --rules rules.json --trace trace.ndjson
  psql "postgres://me@127.0.0.1:6543/app"      # then point your service at port 6543
`,
  init: `Usage: faultline init [dir] [--check]

Detects the service, migrations, Stripe webhook route and env variables in dir (default: the
current folder), writes faultline.config.ts and faultline/incident.scenario.ts (existing files
are kept) and prints each guess with the file:line it came from.

  --check   then run the starter scenario once without its drift and say whether it passes;
            when it does not, why, in one line (the service's last words). Exit code: the run's.

Example:
  cd my-service && npx faultline init && npx faultline run
`,
  postgres: `Usage: faultline postgres fetch <major>

Downloads Postgres <major> (15–18) for --postgres embedded:<major> into
~/.cache/faultline/postgres (FAULTLINE_POSTGRES_CACHE), so later runs need no network.

Example:
  faultline postgres fetch 16 && faultline run --postgres embedded:16
`,
  record: `Usage: faultline record --forward <http://service> --out <dir> [--listen host:port] [--no-scrub]

A reverse proxy in front of your service that saves each request's raw body and headers as a
fixture (emails, names, card fingerprints replaced by stable fakes; signature headers dropped —
replay re-signs), until Ctrl-C. --listen defaults to 127.0.0.1:9000; --no-scrub keeps the data
as it came.

Example:
  faultline record --forward http://127.0.0.1:3000 --out fixtures/incident
  stripe listen --forward-to 127.0.0.1:9000/webhooks/stripe   # in another terminal
`,
  import: `Usage: faultline import stripe-events <events.json> [--out <dir>] [--no-scrub]

Turns an exported Stripe event list ({ "object": "list", "data": […] }) into fixtures that
faultline replay and scenarios' \`recorded\` steps send (default folder:
faultline-fixtures/<file name>).

Example:
  stripe events list --limit 100 > events.json
  faultline import stripe-events events.json --out fixtures/incident
`,
  replay: `Usage: faultline replay <dir> --to <http://service> --provider <name> --secret <secret>
                        [--policy inOrder|shuffled|concurrent|duplicated] [--seed n]

Sends every fixture in a folder, re-signed as the provider signs (stripe, standard, github,
shopify, paddle, lemonsqueezy): recorded pairs (NNN-name.body + .json) byte for byte, then stock
templates (<event>.json, as in fixtures/webhooks/<provider>/) filled from --seed (printed;
default a new one). Exit 0 when every delivery got a 2xx, 1 otherwise, 2 when the folder has
nothing to send.

Example:
  faultline replay fixtures/incident --to http://127.0.0.1:3000 --provider stripe \\
    --secret "$STRIPE_WEBHOOK_SECRET" --policy duplicated
`,
  load: `Usage: faultline load <scenario> --rate 200/s --duration 60s [--ramp 30s] [--faults …]
                      [--threshold 'p99<300ms' …] [--html report.html] [--json load.json]

${USAGE.slice(USAGE.indexOf("faultline load: an open-model"), USAGE.indexOf("  e.g. faultline load"))}
Example:
  faultline load scenarios/credits-balance-hotfix.scenario.ts --cell schema="credits_balance missing" \\
    --rate 200/s --duration 60s --ramp 10s --threshold 'p99<300ms' --threshold 'errors<0.1%' \\
    --html load.html
`,
  k6: `Usage: faultline k6 <scenario> [--out load.js] [--rate 200/s] [--duration 60s] [--ramp 30s]
                    [--threshold 'p99<300ms' …] [--seed n] [--config file]

Writes the scenario's webhooks as a k6 script for load beyond one machine: an arrival-rate
scenario (requests start on schedule whether or not earlier ones returned), k6 thresholds, each
provider's signature made with k6/crypto (stripe, standard, github, lemonsqueezy), fresh ids and
emails every cycle through the scenario's webhooks, and handleSummary. It runs as is with
\`k6 run\` and unchanged on the Kubernetes k6 operator (a TestRun with parallelism). The script
reads K6_TARGET (the service's base URL), WEBHOOK_SECRET, RUN_ID and SUMMARY_JSON from the
environment. Rule steps, recorded requests and deliberately bad signatures are left out.

Options:
  --out <file>            where to write the script (default: standard output)
  --rate, --duration, --ramp, --threshold  read as faultline load reads them (default 50/s for
                          60s); the ramp is the start of the duration. k6 iterates a whole
                          number of times per second or minute, so 0.5/s is written 30/m.
                          Thresholds map to k6's: latency ones on http_req_duration, errors<N%
                          on http_req_failed, rate>=N/s on http_reqs. A run that drops more
                          than 1% of its iterations (could not keep the rate) always fails.
  --seed <n>              seed for the values drawn once at export (default: randomSeed)
  --config <file>         faultline.config.ts whose webhook paths to post to

Example:
  faultline k6 scenarios/credits-balance-present.scenario.ts --out load.js \\
    --rate 200/s --duration 60s --ramp 30s --threshold 'p99<300ms' --threshold 'errors<0.1%'
  K6_TARGET=http://127.0.0.1:3000 WEBHOOK_SECRET=whsec_… k6 run load.js
`,
};

/** A command's own help, or the global usage for a command without one. */
function helpFor(command: string): string {
  return COMMAND_HELP[command] ?? USAGE;
}

/** Flags `run` and `gate` share: where the service, schema and Postgres come from, and reports. */
const RUN_FLAGS = {
  config: { type: "string" },
  service: { type: "string" },
  postgres: { type: "string" },
  "allow-remote": { type: "boolean" },
  migrations: { type: "string" },
  schema: { type: "string" },
  migrate: { type: "string" },
  "no-template-cache": { type: "boolean" },
  json: { type: "string" },
  junit: { type: "string" },
  summary: { type: "string" },
  html: { type: "string" },
  seed: { type: "string" },
  concurrency: { type: "string" },
  cell: { type: "string", multiple: true },
  "ready-timeout": { type: "string" },
  "trace-dir": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const GATE_FLAGS = {
  ...RUN_FLAGS,
  baseline: { type: "string" },
  candidate: { type: "string" },
} as const;

/** Flags that name a report file: a replay command line leaves them out. */
const REPORT_FLAGS = new Set(["json", "junit", "summary", "html"]);

function parseRunFlags<T extends typeof RUN_FLAGS | typeof GATE_FLAGS>(args: string[], options: T) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, tokens: true, options });
  } catch (error) {
    throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

type RunValues = ReturnType<typeof parseRunFlags<typeof GATE_FLAGS>>["values"];

/** What `run` and `gate` print besides verdicts: `--quiet` drops progress, `--verbose` adds detail. */
function consoleOutput(values: RunValues) {
  if (values.quiet && values.verbose)
    throw new BadUsageError("give one of --quiet and --verbose, not both");
  const progress = values.quiet
    ? () => {}
    : (line: string) => process.stdout.write(`faultline: ${line}\n`);
  return {
    quiet: Boolean(values.quiet),
    verbose: Boolean(values.verbose),
    colour: colourFor(process.stdout),
    progress,
    detail: values.verbose ? progress : () => {},
  };
}

function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 32 - 1)
    throw new BadUsageError(
      `--seed: expected a whole number from 0 to 4294967295, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}

function parseReadyTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new BadUsageError(
      `--ready-timeout: expected milliseconds (a whole number above 0), got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/**
 * Stop cleanly on SIGINT/SIGTERM: the first signal aborts the run, whose `finally` blocks stop
 * the service and Postgres and remove temp dirs; a second signal (or a stuck cleanup) kills
 * whatever is left synchronously and exits.
 */
function abortOnSignals(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      runExitHooksNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    }
    process.stderr.write(`\nfaultline: ${signal}: stopping…\n`);
    controller.abort(new InterruptedError(signal));
    setTimeout(() => {
      runExitHooksNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    }, 15_000).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A killed `npx faultline` or CI step sends no signal on: its parent's exit is the signal.
  const unwatch = watchParent(() => onSignal("SIGTERM"));
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    unwatch();
  };
}

function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64)
    throw new BadUsageError(
      `--concurrency: expected how many cells run at once, 1 to 64, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}

/** `--cell schema=credits_balance missing` (repeatable): the matrix cells to run. */
function parseCells(values: string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const only: Record<string, string> = {};
  for (const value of values) {
    const match = /^(schema|delivery|faults)=(.+)$/.exec(value);
    if (!match)
      throw new BadUsageError(
        `--cell: expected axis=value with axis schema, delivery or faults (e.g. --cell "schema=credits_balance missing"), got ${JSON.stringify(value)}`,
      );
    only[match[1] as string] = match[2] as string;
  }
  return only;
}

function nonEmpty(values: RunValues, flag: keyof RunValues, what: string): void {
  const value = values[flag];
  if (typeof value === "string" && value.trim() === "")
    throw new BadUsageError(`--${flag}: expected ${what}, got an empty string`);
}

/** How the user called faultline, for command lines they can paste back. */
function invocation(): string {
  const script = process.argv[1] ?? "faultline";
  // Installed (npx, npm scripts, node_modules/.bin): npx finds it again from the project.
  if (script.split(path.sep).includes("node_modules")) return "npx faultline";
  const relative = path.relative(process.cwd(), script);
  return `node ${relative.startsWith("..") ? script : relative}`;
}

/**
 * The command line that replays one scenario exactly: `run` on its file with the same flags,
 * the seed it ran with, and `service` when given (a gate's failing side); report files are left
 * out so a replay does not overwrite the CI's.
 */
function replayCommandLine(
  tokens: NonNullable<ReturnType<typeof parseRunFlags>["tokens"]>,
  { file, seed, cell }: ScenarioResult,
  service?: string,
): string {
  const words = ["faultline", "run", file];
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (
      ["seed", "baseline", "candidate", "concurrency", "cell", "quiet", "verbose"].includes(
        token.name,
      )
    )
      continue;
    if (REPORT_FLAGS.has(token.name) || (service !== undefined && token.name === "service"))
      continue;
    words.push(`--${token.name}`);
    if (token.value !== undefined) words.push(token.value);
  }
  if (service !== undefined) words.push("--service", service);
  for (const [axis, label] of Object.entries(cell ?? {})) words.push("--cell", `${axis}=${label}`);
  words.push("--seed", String(seed));
  return [invocation(), ...words.slice(1).map(shellWord)].join(" ");
}

/** What `run` and `gate` both set up: the config, Postgres with the schema, the scenarios. */
async function prepareRun(
  values: RunValues,
  positionals: string[],
  signal: AbortSignal,
  serviceArgs: (string | undefined)[],
) {
  nonEmpty(values, "service", "a bundled service name or a command line");
  nonEmpty(values, "config", "a file");
  nonEmpty(values, "postgres", "a provider");
  const seed = parseSeed(values.seed);
  const concurrency = parseConcurrency(values.concurrency);
  const only = parseCells(values.cell);
  const readyTimeoutMs = parseReadyTimeout(values["ready-timeout"]);
  const output = consoleOutput(values);

  const { findConfigFile, loadConfig } = await import("./config/index.ts");
  const configFile = values.config ?? (await findConfigFile());
  const config = configFile ? await loadConfig(configFile) : undefined;
  if (config) output.progress(`config ${path.relative(process.cwd(), config.file) || config.file}`);
  const allowRemote = Boolean(values["allow-remote"]) || (config?.database.allowRemote ?? false);
  const given = (["migrations", "schema", "migrate"] as const).filter(
    (k) => values[k] !== undefined,
  );
  if (given.length > 1)
    throw new BadUsageError(
      `give one of --migrations, --schema, --migrate; got ${given.map((g) => `--${g}`).join(", ")}`,
    );
  const schema = values.migrations
    ? { migrations: path.resolve(values.migrations) }
    : values.schema
      ? { schema: path.resolve(values.schema) }
      : values.migrate
        ? { migrate: values.migrate, cwd: process.cwd() }
        : config?.database.schema;
  const postgres = values.postgres ?? config?.database.postgres ?? "embedded";

  // Postgres starts first (initdb runs in its own process) while Node loads the heavier
  // modules, builds the service bundle and reads the scenarios: that overlap is most of a
  // cold run's time to verdict. Bad input aborts the start-up instead of waiting for it.
  const setup = new AbortController();
  const forward = () => setup.abort(signal.reason);
  signal.addEventListener("abort", forward, { once: true });
  // `migrate: "service"`: the template is built by starting the (first) service on it.
  const migratesItself =
    schema !== undefined && "migrate" in schema && schema.migrate === "service";
  let servicesForTemplate: Promise<{ spec: ServiceSpec }[]> | undefined;
  const environment = startEnvironment({
    signal: setup.signal,
    provider: resolvePostgresProvider(postgres, { allowRemote }),
    allowNonLoopback: allowRemote,
    ...(schema ? { schema } : {}),
    ...(migratesItself
      ? {
          migrateWithService: async (databaseUrl: string) => {
            const [first] = await (servicesForTemplate as Promise<{ spec: ServiceSpec }[]>);
            if (!first) throw new BadUsageError('database.migrate "service": no service to start');
            const { migrateByStartingService } = await import("./scenario/index.ts");
            return migrateByStartingService(first.spec, databaseUrl, {
              readyTimeoutMs: readyTimeoutMs ?? config?.service.readyTimeoutMs,
              signal: setup.signal,
              onProgress: output.progress,
            });
          },
        }
      : {}),
    ...(values["no-template-cache"] ? { templateCache: false } : {}),
    onProgress: output.progress,
  });
  const startedAt = performance.now();
  environment.then(
    (e) =>
      output.detail(
        `Postgres ${e.postgres} and the template ready in ${((performance.now() - startedAt) / 1000).toFixed(2)}s`,
      ),
    () => {},
  );
  const services = Promise.all(
    serviceArgs.map((arg) =>
      import("./service/index.ts").then(({ resolveService }) =>
        resolveService(arg ?? (config ? undefined : "payments:fixed"), config?.service),
      ),
    ),
  );
  servicesForTemplate = services;
  // Failures surface where these are awaited; the handlers only stop Node calling them unhandled.
  environment.catch(() => {});
  services.catch(() => {});
  const close = async () => {
    signal.removeEventListener("abort", forward);
    await Promise.allSettled([
      environment.then((e) => e.stop()),
      services.then((list) => Promise.allSettled(list.map((s) => s.dispose()))),
    ]);
  };
  try {
    const { findScenarioFiles, loadScenario, expandMatrix, cellMatches, describeCell } =
      await import("./scenario/index.ts");
    const scenarios = [];
    const targets = positionals.length ? positionals : (config?.scenarios ?? []);
    for (const file of await findScenarioFiles(targets)) scenarios.push(await loadScenario(file));
    output.detail(
      `${scenarios.length} scenario file(s): ${scenarios.map((s) => path.relative(process.cwd(), s.file) || s.file).join(", ")}`,
    );
    // --cell picks matrix cells; picking none is a mistake, never a green run on nothing.
    if (only) {
      const cells = scenarios.flatMap((loaded) =>
        expandMatrix(loaded).map((cell) => ({ name: loaded.scenario.name, cell: cell.cell })),
      );
      if (!cells.some(({ cell }) => cellMatches(cell, only)))
        throw new BadUsageError(
          `--cell: no cell has ${describeCell(only)}; the cells are: ${cells.map(({ name, cell }) => `${name}${cell ? ` [${describeCell(cell)}]` : ""}`).join("; ")}`,
        );
    }
    return {
      config,
      environment,
      services,
      scenarios,
      close,
      options: {
        seed,
        concurrency,
        only,
        readyTimeoutMs: readyTimeoutMs ?? config?.service.readyTimeoutMs,
        webhookPaths: config?.webhookPaths,
        ...(config?.stripeApiVersion ? { stripeApiVersion: config.stripeApiVersion } : {}),
        traceDir: values["trace-dir"] ? path.resolve(values["trace-dir"]) : undefined,
        keepTrace: values.html !== undefined,
        signal,
        onProgress: output.progress,
      },
      output,
    };
  } catch (error) {
    setup.abort(error);
    await close();
    throw error;
  }
}

async function run(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals, tokens } = parseRunFlags(args, RUN_FLAGS);
  if (values.help) {
    process.stdout.write(helpFor("run"));
    return 0;
  }
  const prepared = await prepareRun(values, positionals, signal, [values.service]);
  try {
    const [{ runScenarios }, report] = await Promise.all([
      import("./scenario/index.ts"),
      import("./report/index.ts"),
    ]);
    const reporters: Reporter[] = [report.consoleReporter(undefined, prepared.output)];
    if (values.json) reporters.push(report.jsonReporter(values.json));
    if (values.junit) reporters.push(report.junitReporter(values.junit));
    if (values.html) reporters.push(report.htmlReporter(values.html));
    if (values.summary)
      reporters.push(
        report.markdownSummaryReporter(values.summary, {
          replayCommand: (r) => r.replay ?? report.defaultReplayCommand(r),
        }),
      );

    const [service] = await prepared.services;
    const summary = await runScenarios(prepared.scenarios, await prepared.environment, {
      ...prepared.options,
      service: (service as { spec: ServiceSpec }).spec,
      onRunStart: async (info) => {
        for (const r of reporters) await r.onRunStart?.(info);
      },
      onScenarioEnd: async (result) => {
        if (result.verdict !== "pass") result.replay = replayCommandLine(tokens ?? [], result);
        for (const r of reporters) await r.onScenarioResult?.(result);
      },
    });
    for (const r of reporters) await r.onRunEnd?.(summary);
    return summary.exitCode;
  } finally {
    await prepared.close();
  }
}

/** `faultline gate`: each scenario against the baseline and the candidate service. */
async function gate(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals, tokens } = parseRunFlags(args, GATE_FLAGS);
  if (values.help) {
    process.stdout.write(helpFor("gate"));
    return 0;
  }
  for (const side of ["baseline", "candidate"] as const) {
    const value = values[side];
    if (value === undefined || value.trim() === "")
      throw new BadUsageError(
        `gate: --${side} is required: a bundled service name or the command line that starts the ${side === "baseline" ? "code before the fix (e.g. the merge base's build)" : "code with the fix (e.g. the pull request's build)"}\n\n${USAGE}`,
      );
  }
  if (values.service !== undefined)
    throw new BadUsageError("gate: --service does not apply; give --baseline and --candidate");
  const prepared = await prepareRun(values, positionals, signal, [
    values.baseline,
    values.candidate,
  ]);
  try {
    const gates = await import("./gate/index.ts");
    const [baseline, candidate] = (await prepared.services).map(
      (s) => (s as { spec: ServiceSpec }).spec,
    ) as [ServiceSpec, ServiceSpec];
    const write = (text: string) => process.stdout.write(text);
    const summary = await gates.runGate(prepared.scenarios, await prepared.environment, {
      ...prepared.options,
      baseline,
      candidate,
      onGateStart: (info) => {
        if (prepared.output.quiet) return;
        write(
          `faultline gate: ${info.scenarios} scenario(s), ${info.cells} cell(s) × 2 services, ${info.concurrency} at a time, on ${info.postgres}; seed ${info.seed}\n  baseline:  ${info.baseline}\n  candidate: ${info.candidate}\n`,
        );
      },
    });
    for (const scenario of summary.scenarios) {
      write(`${gates.formatGateScenario(scenario)}\n`);
      if (prepared.output.verbose) {
        const { formatScenarioResult } = await import("./report/index.ts");
        for (const cell of scenario.cells)
          for (const [side, result] of [
            ["baseline", cell.baseline],
            ["candidate", cell.candidate],
          ] as const)
            write(
              `  ${side}: ${formatScenarioResult(result, prepared.output).replace(/\n/g, "\n  ")}\n`,
            );
      }
      const shown = new Set<string>();
      for (const cell of scenario.cells) {
        // What to look at next: the candidate where it fails, the baseline where it errors
        // or does not reproduce the incident.
        const replays: [ScenarioResult, string | undefined][] = [];
        if (cell.candidate.verdict !== "pass") replays.push([cell.candidate, values.candidate]);
        if (cell.baseline.verdict === "error" || scenario.outcome === "does not reproduce")
          replays.push([cell.baseline, values.baseline]);
        for (const [result, service] of replays) {
          result.replay = replayCommandLine(tokens ?? [], result, service);
          if (!shown.has(result.replay)) write(`  replay: ${result.replay}\n`);
          shown.add(result.replay);
        }
      }
    }
    write(`${gates.formatGateTotals(summary)}\n`);
    const report = await import("./report/index.ts");
    const environment = await prepared.environment;
    const versions = {
      faultline: faultlineVersion(),
      node: process.version,
      postgres: environment.postgres,
    };
    if (values.json)
      await report.writeReportFile(
        values.json,
        `${JSON.stringify(gates.toGateJson(summary, { versions }), null, 2)}\n`,
      );
    if (values.junit) await report.writeReportFile(values.junit, gates.toGateJunit(summary));
    if (values.html) {
      const cells = summary.scenarios.flatMap((s) => s.cells);
      await report.writeReportFile(
        values.html,
        report.toHtmlReport({
          title: "faultline gate",
          comparison: true,
          sides: [
            { label: `baseline: ${summary.baseline}`, results: cells.map((c) => c.baseline) },
            { label: `candidate: ${summary.candidate}`, results: cells.map((c) => c.candidate) },
          ],
        }),
      );
    }
    // Appended: GitHub's step summary file is shared by every step of the job.
    if (values.summary) {
      await mkdir(path.dirname(path.resolve(values.summary)), { recursive: true });
      await appendFile(values.summary, gates.toGateMarkdown(summary));
    }
    return summary.exitCode;
  } finally {
    await prepared.close();
  }
}

function parseHostPort(
  value: string,
  flag: string,
  defaultPort?: number,
): { host: string; port: number } {
  let host: string;
  let port: string | undefined;
  if (/^postgres(ql)?:\/\//.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new BadUsageError(`${flag}: not a valid URL: ${JSON.stringify(value)}`);
    }
    host = url.hostname.replace(/^\[|\]$/g, "");
    port = url.port || "5432";
  } else {
    const match = /^(.*?)(?::(\d+))?$/.exec(value);
    host = match?.[1] || "127.0.0.1";
    port = match?.[2] ?? (defaultPort === undefined ? undefined : String(defaultPort));
  }
  const portNumber = Number(port);
  if (!port || !Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    throw new BadUsageError(
      `${flag}: expected host:port or postgres://host:port, got ${JSON.stringify(value)}`,
    );
  }
  return { host, port: portNumber };
}

async function proxy(args: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseFlags(args, {
    upstream: { type: "string" },
    listen: { type: "string" },
    rules: { type: "string" },
    trace: { type: "string" },
    seed: { type: "string" },
    "allow-remote-upstream": { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(helpFor("proxy"));
    return 0;
  }
  const upstream = parseHostPort(
    required(values.upstream, "--upstream", "postgres://host:port of the real server"),
    "--upstream",
  );
  const { isLoopback } = await import("./postgres/index.ts");
  if (!isLoopback(upstream.host) && !values["allow-remote-upstream"]) {
    throw new BadUsageError(
      `--upstream ${upstream.host} is not on loopback; pass --allow-remote-upstream if you mean it`,
    );
  }
  const listen = parseHostPort(
    (values.listen as string | undefined) ?? "127.0.0.1:6543",
    "--listen",
    6543,
  );
  const { loadRulesFile, startProxy } = await import("./proxy/index.ts");
  const rulesFile = values.rules as string | undefined;
  const tracePath = values.trace as string | undefined;
  const file = rulesFile ? await loadRulesFile(rulesFile) : { rules: [], seed: undefined };
  const seed = parseSeed(values.seed as string | undefined) ?? file.seed ?? 0;
  let started: Awaited<ReturnType<typeof startProxy>>;
  try {
    started = await startProxy({
      upstream,
      listen,
      rules: file.rules,
      seed,
      tracePath,
      onFault: (e) =>
        process.stdout.write(
          `fault: rule ${JSON.stringify(e.rule)} (${e.fault}) on connection ${e.conn}${e.sql ? `: ${e.sql.replace(/\s+/g, " ").slice(0, 200)}` : ""}\n`,
        ),
    });
  } catch (error) {
    throw new BadUsageError(`--listen ${listen.host}:${listen.port}: ${(error as Error).message}`);
  }
  process.stdout.write(
    `faultline proxy: listening on ${started.host}:${started.port} → ${upstream.host}:${upstream.port}; ${file.rules.length} rule(s), seed ${seed}${tracePath ? `, trace ${tracePath}` : ""}\n`,
  );
  await untilAborted(signal);
  await started.stop();
  process.stdout.write("faultline proxy: stopped\n");
  return 0;
}

function parseFlags(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>,
  positionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: positionals,
      strict: true,
    });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

function required(value: string | boolean | undefined, flag: string, what = ""): string {
  if (typeof value !== "string" || value === "")
    throw new BadUsageError(`${flag} is required${what ? ` (${what})` : ""}\n\n${USAGE}`);
  return value;
}

async function untilAborted(signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** `faultline record`: a reverse proxy that saves every request as a fixture, until Ctrl-C. */
async function record(args: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseFlags(args, {
    listen: { type: "string" },
    forward: { type: "string" },
    out: { type: "string" },
    "no-scrub": { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(helpFor("record"));
    return 0;
  }
  const listen = parseHostPort(
    (values.listen as string | undefined) ?? "127.0.0.1:9000",
    "--listen",
    9000,
  );
  const forward = required(values.forward, "--forward");
  if (!/^https?:\/\//.test(forward))
    throw new BadUsageError(`--forward: expected an http:// URL, got ${JSON.stringify(forward)}`);
  const outDir = path.resolve(required(values.out, "--out"));
  const { startRecorder } = await import("./webhooks/index.ts");
  const recorder = await startRecorder({ listen, forward, outDir, scrub: !values["no-scrub"] });
  process.stdout.write(
    `faultline record: listening on ${recorder.host}:${recorder.port} → ${forward}; fixtures in ${outDir}\n`,
  );
  await untilAborted(signal);
  await recorder.stop();
  process.stdout.write(`faultline record: ${recorder.recorded()} request(s) saved in ${outDir}\n`);
  return 0;
}

/** `faultline import stripe-events FILE.json [--out DIR]`. */
async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { out: { type: "string" }, "no-scrub": { type: "boolean" } },
    true,
  );
  if (values.help) {
    process.stdout.write(helpFor("import"));
    return 0;
  }
  const [kind, file, ...extra] = positionals;
  if (kind !== "stripe-events" || !file || extra.length) {
    throw new BadUsageError(
      `usage: faultline import stripe-events FILE.json [--out DIR]\n\n${USAGE}`,
    );
  }
  const outDir = path.resolve(
    (values.out as string | undefined) ??
      path.join("faultline-fixtures", path.basename(file).replace(/\.json$/i, "")),
  );
  const { importStripeEvents } = await import("./webhooks/index.ts");
  let count: number;
  try {
    count = await importStripeEvents(path.resolve(file), outDir, { scrub: !values["no-scrub"] });
  } catch (error) {
    throw new BadUsageError((error as Error).message);
  }
  process.stdout.write(`faultline import: ${count} Stripe event(s) from ${file} → ${outDir}\n`);
  return 0;
}

/** `faultline replay DIR --to URL --provider NAME --secret SECRET [--policy P] [--seed N]`. */
async function replayCommand(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      to: { type: "string" },
      provider: { type: "string" },
      secret: { type: "string" },
      policy: { type: "string" },
      seed: { type: "string" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(helpFor("replay"));
    return 0;
  }
  const [dir, ...extra] = positionals;
  if (!dir || extra.length)
    throw new BadUsageError(
      `usage: faultline replay DIR --to URL --provider NAME --secret SECRET\n\n${USAGE}`,
    );
  const to = required(values.to, "--to").replace(/\/$/, "");
  if (!/^https?:\/\//.test(to))
    throw new BadUsageError(`--to: expected an http:// URL, got ${JSON.stringify(to)}`);
  const providerName = required(values.provider, "--provider");
  const secret = required(values.secret, "--secret");
  const policy = (values.policy as string | undefined) ?? "inOrder";
  const policies = ["inOrder", "shuffled", "concurrent", "duplicated"];
  if (!policies.includes(policy))
    throw new BadUsageError(
      `--policy: expected one of ${policies.join(", ")}, got ${JSON.stringify(policy)}`,
    );
  const webhooks = await import("./webhooks/index.ts");
  const provider = webhooks.webhookProviders[providerName];
  if (!provider) {
    throw new BadUsageError(
      `--provider: unknown provider ${JSON.stringify(providerName)} (known: ${Object.keys(webhooks.webhookProviders).join(", ")})`,
    );
  }
  // Stock templates are filled from the seed: print it, so the same bytes can be sent again.
  const seed =
    parseSeed(values.seed as string | undefined) ?? (await import("./random/index.ts")).newSeed();
  process.stdout.write(
    `faultline replay: ${dir} → ${to}, seed ${seed} (--seed ${seed} sends the same bytes)\n`,
  );
  let results: Awaited<ReturnType<typeof webhooks.replay>>;
  try {
    results = await webhooks.replay({
      dir: path.resolve(dir),
      to,
      provider,
      secret,
      policy: policy as "inOrder" | "shuffled" | "concurrent" | "duplicated",
      seed,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new BadUsageError((error as Error).message);
  }
  for (const r of results) {
    const outcome = r.status === 0 ? `no response (${r.error})` : `HTTP ${r.status}`;
    process.stdout.write(
      `${r.status >= 200 && r.status < 300 ? "ok  " : "FAIL"} ${path.basename(r.file)} ${r.type ?? ""} ${r.eventId ?? ""} → ${outcome}\n`,
    );
  }
  const ok = results.filter((r) => r.status >= 200 && r.status < 300).length;
  const stock = results.filter((r) => r.source === "stock").length;
  process.stdout.write(
    `${ok} passed, ${results.length - ok} failed (${results.length - stock} recorded, ${stock} stock; seed ${seed})\n`,
  );
  return ok === results.length ? 0 : 1;
}

/** `faultline init [dir]`: write a config and a starter scenario from what the repo shows. */
async function initCommand(args: string[]): Promise<number> {
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { help: { type: "boolean", short: "h" }, check: { type: "boolean" } },
      });
    } catch (error) {
      throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
    }
  })();
  if (values.help) {
    process.stdout.write(helpFor("init"));
    return 0;
  }
  if (positionals.length > 1)
    throw new BadUsageError(`init: expected at most one folder, got ${positionals.length}`);
  const { initProject, formatInitReport, checkCleanRun, CONFIG_FILE, SCENARIO_FILE } = await import(
    "./init/index.ts"
  );
  const report = await initProject(positionals[0] ?? ".");
  process.stdout.write(formatInitReport(report));
  if (!values.check) return 0;
  // The starter scenario once, without drift: a setup that does not work says so before any
  // drift is read as the service's fault.
  process.stdout.write("\ninit --check: running the starter scenario once without its drift…\n");
  const clean = await checkCleanRun(
    path.join(report.dir, CONFIG_FILE),
    path.join(report.dir, SCENARIO_FILE),
  );
  process.stdout.write(`${clean.line}\n`);
  return clean.exitCode;
}

/** `faultline postgres fetch <major>`: fetch a Postgres major ahead of an offline run. */
async function postgresCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {}, true);
  if (values.help) {
    process.stdout.write(helpFor("postgres"));
    return 0;
  }
  const [verb, major, ...extra] = positionals;
  if (verb !== "fetch" || !major || !/^\d+$/.test(major) || extra.length)
    throw new BadUsageError(`usage: faultline postgres fetch <major>, e.g. 16\n\n${USAGE}`);
  const { fetchPostgresMajor } = await import("./postgres/index.ts");
  const dir = await fetchPostgresMajor(Number(major));
  process.stdout.write(`faultline: Postgres ${major} is ready in ${dir}\n`);
  return 0;
}

/** `faultline k6 <scenario> --out load.js`: the scenario's webhooks as a k6 script. */
async function k6Command(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    {
      out: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      ramp: { type: "string" },
      threshold: { type: "string", multiple: true },
      seed: { type: "string" },
      config: { type: "string" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(helpFor("k6"));
    return 0;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length)
    throw new BadUsageError(`k6: expected one scenario file\n\n${helpFor("k6")}`);
  const k6 = await import("./k6/index.ts");
  // A k6 script is edited and re-run, so it has a starting shape; `load` asks for one.
  const profile = await loadProfile(values, { rate: "50/s", duration: "60s" });
  const rate = k6.k6Rate(profile.rateSpec);
  const thresholds = profile.thresholds.map(k6.k6Threshold);
  const { findConfigFile, loadConfig } = await import("./config/index.ts");
  const configFile = (values.config as string | undefined) ?? (await findConfigFile());
  const config = configFile ? await loadConfig(configFile) : undefined;
  const seed = parseSeed(values.seed as string | undefined);
  const exported = await k6.exportK6Script(file, {
    rate,
    durationMs: profile.durationMs,
    ...(profile.rampMs ? { rampMs: profile.rampMs } : {}),
    thresholds,
    ...(seed === undefined ? {} : { seed }),
    ...(config ? { paths: config.webhookPaths } : {}),
    ...(config?.stripeApiVersion ? { stripeApiVersion: config.stripeApiVersion } : {}),
    command: ["faultline", "k6", ...args].map(shellWord).join(" "),
  });
  const out = values.out as string | undefined;
  if (out === undefined || out === "-") {
    process.stdout.write(exported.script);
    return 0;
  }
  const { writeReportFile } = await import("./report/index.ts");
  await writeReportFile(out, exported.script);
  process.stderr.write(
    `faultline k6: ${exported.scenario} (${exported.steps} webhook(s) in turn) at ${rate.count}/${rate.perSeconds === 1 ? "s" : "m"} for ${k6.k6Duration(profile.durationMs)}${profile.rampMs ? ` (the first ${k6.k6Duration(profile.rampMs)} ramping up)` : ""} → ${out}\n  run it: K6_TARGET=http://127.0.0.1:3000 WEBHOOK_SECRET=… k6 run ${shellWord(out)}\n`,
  );
  return 0;
}

/**
 * `--rate`, `--duration`, `--ramp` and `--threshold`, read one way for `load` and `k6`: the
 * ramp is the start of the duration, not added to it.
 */
async function loadProfile(
  values: { rate?: unknown; duration?: unknown; ramp?: unknown; threshold?: unknown },
  defaults: { rate?: string; duration?: string } = {},
) {
  const load = await import("./load/index.ts");
  const rateText = (values.rate as string | undefined) ?? defaults.rate;
  const durationText = (values.duration as string | undefined) ?? defaults.duration;
  const ramp = values.ramp as string | undefined;
  if (rateText === undefined) throw new BadUsageError(`--rate: required, ${load.RATE_FORMS}`);
  if (durationText === undefined)
    throw new BadUsageError(`--duration: required, ${load.DURATION_FORMS}`);
  const rateSpec = load.parseRateSpec(rateText);
  const durationMs = load.parseDuration(durationText);
  const rampMs = ramp === undefined ? 0 : load.parseDuration(ramp, "--ramp", true);
  if (rampMs > durationMs)
    throw new BadUsageError(
      `--ramp: ${ramp} is longer than --duration ${durationText}; the ramp is part of the duration`,
    );
  const thresholds = ((values.threshold as string[] | undefined) ?? []).map((t) =>
    load.parseThreshold(t),
  );
  return { rate: rateSpec.perSecond, rateSpec, durationMs, rampMs, thresholds };
}

const LOAD_FLAGS = {
  ...RUN_FLAGS,
  rate: { type: "string" },
  duration: { type: "string" },
  ramp: { type: "string" },
  faults: { type: "string" },
  threshold: { type: "string", multiple: true },
} as const;

/** `faultline load`: an open-model load on one scenario, judged by invariants and thresholds. */
async function loadCommand(args: string[], signal: AbortSignal): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      args: string[];
      allowPositionals: true;
      strict: true;
      options: typeof LOAD_FLAGS;
    }>
  >;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: LOAD_FLAGS });
  } catch (error) {
    throw new BadUsageError(`${(error as Error).message}\n\n${helpFor("load")}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(helpFor("load"));
    return 0;
  }
  for (const flag of ["junit", "summary", "trace-dir", "concurrency"] as const)
    if (values[flag] !== undefined)
      throw new BadUsageError(`load: --${flag} is for run and gate; load writes --json and --html`);
  if (positionals.length !== 1)
    throw new BadUsageError(
      `load takes one scenario file; got ${positionals.length ? positionals.join(", ") : "none"}\n\n${helpFor("load")}`,
    );
  const load = await import("./load/index.ts");
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
  const prepared = await prepareRun(values as RunValues, positionals, signal, [values.service]);
  try {
    const { cellMatches, expandMatrix } = await import("./scenario/index.ts");
    const { newSeed } = await import("./random/index.ts");
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
    const report = await import("./report/index.ts");
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
}

/** The command line: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  // Every wait of every parallel cell listens for the abort: more than Node's default of 10.
  setMaxListeners(0, controller.signal);
  const release = abortOnSignals(controller);
  // `faultline run | head`: a reader that stops reading is not a failure of the run, which
  // still finishes, cleans up and exits with its verdict.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  try {
    if (command === "help" && rest[0] && COMMAND_HELP[rest[0]]) {
      process.stdout.write(helpFor(rest[0]));
      return 0;
    }
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "--version" || command === "-v") {
      process.stdout.write(`${faultlineVersion()}\n`);
      return 0;
    }
    if (command === "init") return await initCommand(rest);
    if (command === "postgres") return await postgresCommand(rest);
    if (command === "proxy") return await proxy(rest, controller.signal);
    if (command === "record") return await record(rest, controller.signal);
    if (command === "import") return await importCommand(rest);
    if (command === "replay") return await replayCommand(rest, controller.signal);
    if (command === "k6") return await k6Command(rest);
    if (command !== "run" && command !== "gate" && command !== "load")
      throw new BadUsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    const code = await (command === "gate" ? gate : command === "load" ? loadCommand : run)(
      rest,
      controller.signal,
    );
    // A run interrupted while it wound down still ends as interrupted: a CI runner that sent
    // SIGTERM must not read a verdict from a run it stopped.
    if (controller.signal.aborted) throw controller.signal.reason;
    return code;
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    if (reason instanceof InterruptedError && (command === "proxy" || command === "record")) {
      return 0;
    }
    if (reason instanceof InterruptedError) {
      process.stderr.write(`faultline: ${reason.message}; the service and Postgres were stopped\n`);
    } else {
      process.stderr.write(
        `faultline: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      if (!(error instanceof Error && "code" in error))
        process.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
    }
    return exitCodeFor(reason);
  } finally {
    release();
  }
}
