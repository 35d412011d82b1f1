import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { BadUsageError, exitCodeFor, InterruptedError } from "./errors.ts";
import { PACKAGE_ROOT, runExitHooksNow } from "./lifecycle/index.ts";
import { startEnvironment } from "./postgres/index.ts";
import type { Reporter } from "./report/index.ts";

// The names --service accepts without a command line (kept here so --help needs no imports).
const BUNDLED_SERVICES = ["payments:fixed", "payments:broken"];

const USAGE = `Usage: faultline run [files or folders…] [options]
       faultline proxy --upstream <postgres://host:port> [options]

Runs scenarios (*.scenario.ts) against a service under test, each on its own database cloned
from a migrated template on an embedded Postgres. With no files, runs scenarios/ in the
current folder.

Options:
  --service <name|command>  a bundled service (${BUNDLED_SERVICES.join(", ")}; default
                            payments:fixed) or a shell command line that starts your service;
                            it gets DATABASE_URL, PORT and STRIPE_WEBHOOK_SECRET
  --json <file>             write the full results as JSON
  --junit <file>            write JUnit XML
  --seed <n>                seed for ids and random choices (default: each scenario's randomSeed)
  --ready-timeout <ms>      how long the service may take to answer GET /healthz (default 15000)
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
`;

function parseRun(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        service: { type: "string" },
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
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
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

  // Postgres starts first (initdb runs in its own process) while Node loads the heavier
  // modules, builds the service bundle and reads the scenarios: that overlap is most of a
  // cold run's time to verdict. Bad input aborts the start-up instead of waiting for it.
  const setup = new AbortController();
  const forward = () => setup.abort(signal.reason);
  signal.addEventListener("abort", forward, { once: true });
  const environment = startEnvironment({ signal: setup.signal });
  const servicePromise = import("./service/index.ts").then(({ resolveService }) =>
    resolveService(values.service),
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
      for (const file of await findScenarioFiles(positionals))
        scenarios.push(await loadScenario(file));
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
      readyTimeoutMs,
      traceDir: values["trace-dir"] ? path.resolve(values["trace-dir"]) : undefined,
      signal,
      onRunStart: async (info) => {
        for (const r of reporters) await r.onRunStart?.({ ...info, seed });
      },
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
  let parsed: ReturnType<typeof parseProxyArgs>;
  try {
    parsed = parseProxyArgs(args);
  } catch (error) {
    throw new BadUsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.upstream)
    throw new BadUsageError(
      `--upstream is required (postgres://host:port of the real server)\n\n${USAGE}`,
    );
  const upstream = parseHostPort(values.upstream, "--upstream");
  const { isLoopback } = await import("./postgres/index.ts");
  if (!isLoopback(upstream.host) && !values["allow-remote-upstream"]) {
    throw new BadUsageError(
      `--upstream ${upstream.host} is not on loopback; pass --allow-remote-upstream if you mean it`,
    );
  }
  const listen = parseHostPort(values.listen ?? "127.0.0.1:6543", "--listen", 6543);
  const { loadRulesFile, startProxy } = await import("./proxy/index.ts");
  const file = values.rules ? await loadRulesFile(values.rules) : { rules: [], seed: undefined };
  const seed = parseSeed(values.seed) ?? file.seed ?? 0;
  let started: Awaited<ReturnType<typeof startProxy>>;
  try {
    started = await startProxy({
      upstream,
      listen,
      rules: file.rules,
      seed,
      tracePath: values.trace,
      onFault: (e) =>
        process.stdout.write(
          `fault: rule ${JSON.stringify(e.rule)} (${e.fault}) on connection ${e.conn}${e.sql ? `: ${e.sql.replace(/\s+/g, " ").slice(0, 200)}` : ""}\n`,
        ),
    });
  } catch (error) {
    throw new BadUsageError(`--listen ${listen.host}:${listen.port}: ${(error as Error).message}`);
  }
  process.stdout.write(
    `faultline proxy: listening on ${started.host}:${started.port} → ${upstream.host}:${upstream.port}; ${file.rules.length} rule(s), seed ${seed}${values.trace ? `, trace ${values.trace}` : ""}\n`,
  );
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await started.stop();
  process.stdout.write("faultline proxy: stopped\n");
  return 0;
}

function parseProxyArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: false,
    strict: true,
    options: {
      upstream: { type: "string" },
      listen: { type: "string" },
      rules: { type: "string" },
      trace: { type: "string" },
      seed: { type: "string" },
      "allow-remote-upstream": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
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
    if (command === "proxy") return await proxy(rest, controller.signal);
    if (command !== "run")
      throw new BadUsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return await run(rest, controller.signal);
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    if (reason instanceof InterruptedError && command === "proxy") {
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
