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
  -h, --help                show this help

Exit codes: 0 all passed, 1 an invariant failed, 2 bad usage or bad scenario,
            3 infrastructure failed (Postgres or the service did not start)
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
    process.stderr.write(`\nfaultline: ${signal}: stopping the service and Postgres…\n`);
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
    if (command !== "run")
      throw new BadUsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return await run(rest, controller.signal);
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
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
