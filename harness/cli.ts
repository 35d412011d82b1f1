import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { BadUsageError, exitCodeFor, InterruptedError } from "./errors.ts";
import { PACKAGE_ROOT, runExitHooksNow, watchParent } from "./lifecycle/index.ts";
import { resolvePostgresProvider, startEnvironment } from "./postgres/index.ts";
import type { Reporter } from "./report/index.ts";

// The names --service accepts without a command line (kept here so --help needs no imports).
const BUNDLED_SERVICES = ["payments:fixed", "payments:broken"];

const USAGE = `Usage: faultline run [files, folders or globs…] [options]
       faultline init [dir]
       faultline postgres fetch <major>
       faultline proxy --upstream <postgres://host:port> [options]
       faultline record --forward <http://service> --out <dir> [--listen host:port]
       faultline import stripe-events <events.json> [--out <dir>]
       faultline replay <dir> --to <http://service> --provider <name> --secret <secret>
                        [--policy inOrder|shuffled|concurrent|duplicated] [--seed n]

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
  --seed <n>                seed for ids and random choices (default: each scenario's randomSeed)
  --ready-timeout <ms>      how long the service may take to become ready (default 15000)
  --trace-dir <dir>         keep each scenario's proxy trace there as <scenario>.ndjson
  -h, --help                show this help

Exit codes: 0 all passed, 1 an invariant failed, 2 bad usage or bad scenario,
            3 infrastructure failed (Postgres or the service did not start)

faultline proxy: a fault-injecting Postgres proxy in front of any Postgres, until Ctrl-C.
  --upstream <url>          the real server, postgres://host:port (user and database come
                            from each client)
  --listen <host:port>      where to listen (default 127.0.0.1:6543)
  --rules <file.json>       { "seed": 7, "rules": [{ "name", "match": {…}, "fault": {…} }] }
  --trace <file.ndjson>     append every statement of every connection
  --seed <n>                seed for probabilistic rules (overrides the file's)
  --allow-remote-upstream   allow an upstream that is not on this machine's loopback

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
  provider signs (stripe, standard, github, shopify, paddle, lemonsqueezy); exit 0 when every
  delivery got a 2xx, 1 otherwise.
`;

function parseRun(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
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
        seed: { type: "string" },
        "ready-timeout": { type: "string" },
        "trace-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
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

async function run(args: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseRun(args);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seed = parseSeed(values.seed);
  const readyTimeoutMs = parseReadyTimeout(values["ready-timeout"]);
  if (values.service !== undefined && values.service.trim() === "") {
    throw new BadUsageError(
      "--service: expected a bundled service name or a command line, got an empty string",
    );
  }
  if (values.config !== undefined && values.config.trim() === "")
    throw new BadUsageError("--config: expected a file, got an empty string");
  if (values.postgres !== undefined && values.postgres.trim() === "")
    throw new BadUsageError("--postgres: expected a provider, got an empty string");

  const { findConfigFile, loadConfig } = await import("./config/index.ts");
  const configFile = values.config ?? (await findConfigFile());
  const config = configFile ? await loadConfig(configFile) : undefined;
  if (config)
    process.stdout.write(
      `faultline: config ${path.relative(process.cwd(), config.file) || config.file}\n`,
    );
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
  const environment = startEnvironment({
    signal: setup.signal,
    provider: resolvePostgresProvider(postgres, { allowRemote }),
    allowNonLoopback: allowRemote,
    ...(schema ? { schema } : {}),
    ...(values["no-template-cache"] ? { templateCache: false } : {}),
    onProgress: (line) => process.stdout.write(`faultline: ${line}\n`),
  });
  const servicePromise = import("./service/index.ts").then(({ resolveService }) =>
    resolveService(values.service ?? (config ? undefined : "payments:fixed"), config?.service),
  );
  // Failures surface where these are awaited; the handlers only stop Node calling them unhandled.
  environment.catch(() => {});
  servicePromise.catch(() => {});
  try {
    const [{ findScenarioFiles, loadScenario, runScenarios }, report] = await Promise.all([
      import("./scenario/index.ts"),
      import("./report/index.ts"),
    ]);
    const scenarios = [];
    try {
      const targets = positionals.length ? positionals : (config?.scenarios ?? []);
      for (const file of await findScenarioFiles(targets)) scenarios.push(await loadScenario(file));
    } catch (error) {
      setup.abort(error);
      throw error;
    }

    const reporters: Reporter[] = [report.consoleReporter()];
    if (values.json) reporters.push(report.jsonReporter(values.json));
    if (values.junit) reporters.push(report.junitReporter(values.junit));

    const summary = await runScenarios(scenarios, await environment, {
      service: (await servicePromise).spec,
      seed,
      readyTimeoutMs: readyTimeoutMs ?? config?.service.readyTimeoutMs,
      webhookPaths: config?.webhookPaths,
      traceDir: values["trace-dir"] ? path.resolve(values["trace-dir"]) : undefined,
      signal,
      onRunStart: async (info) => {
        for (const r of reporters) await r.onRunStart?.({ ...info, seed });
      },
      onProgress: (line) => process.stdout.write(`faultline: ${line}\n`),
      onScenarioEnd: async (result) => {
        for (const r of reporters) await r.onScenarioResult?.(result);
      },
    });
    for (const r of reporters) await r.onRunEnd?.(summary);
    return summary.exitCode;
  } finally {
    signal.removeEventListener("abort", forward);
    await Promise.allSettled([
      environment.then((e) => e.stop()),
      servicePromise.then((s) => s.dispose()),
    ]);
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
    process.stdout.write(USAGE);
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
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
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
    process.stdout.write(USAGE);
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
    process.stdout.write(USAGE);
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
    process.stdout.write(USAGE);
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
  let results: Awaited<ReturnType<typeof webhooks.replay>>;
  try {
    results = await webhooks.replay({
      dir: path.resolve(dir),
      to,
      provider,
      secret,
      policy: policy as "inOrder" | "shuffled" | "concurrent" | "duplicated",
      seed: parseSeed(values.seed as string | undefined),
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
  process.stdout.write(`${ok} passed, ${results.length - ok} failed\n`);
  return ok === results.length ? 0 : 1;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** `faultline init [dir]`: write a config and a starter scenario from what the repo shows. */
async function initCommand(args: string[]): Promise<number> {
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { help: { type: "boolean", short: "h" } },
      });
    } catch (error) {
      throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
    }
  })();
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 1)
    throw new BadUsageError(`init: expected at most one folder, got ${positionals.length}`);
  const { initProject, formatInitReport } = await import("./init/index.ts");
  process.stdout.write(formatInitReport(await initProject(positionals[0] ?? ".")));
  return 0;
}

/** `faultline postgres fetch <major>`: fetch a Postgres major ahead of an offline run. */
async function postgresCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {}, true);
  if (values.help) {
    process.stdout.write(USAGE);
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

/** The command line: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  const release = abortOnSignals(controller);
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "--version" || command === "-v") {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (command === "init") return await initCommand(rest);
    if (command === "postgres") return await postgresCommand(rest);
    if (command === "proxy") return await proxy(rest, controller.signal);
    if (command === "record") return await record(rest, controller.signal);
    if (command === "import") return await importCommand(rest);
    if (command === "replay") return await replayCommand(rest, controller.signal);
    if (command !== "run")
      throw new BadUsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return await run(rest, controller.signal);
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
