import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { resolvePostgresProvider, startEnvironment } from "../postgres/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import { colourFor } from "../terminal/index.ts";
import { parseCells, parseConcurrency, parseReadyTimeout, parseSeed } from "./flag-values.ts";
import type { RunValues } from "./run-flags.ts";

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

function nonEmpty(values: RunValues, flag: keyof RunValues, what: string): void {
  const value = values[flag];
  if (typeof value === "string" && value.trim() === "")
    throw new BadUsageError(`--${flag}: expected ${what}, got an empty string`);
}

/**
 * The schema the flags name (one of --migrations, --schema, --migrate), else the config's:
 * how every command that builds the migrations' template reads it.
 */
export function schemaFromFlags<S>(
  values: { migrations?: string; schema?: string; migrate?: string },
  configured: S | undefined,
): { migrations: string } | { schema: string } | { migrate: string; cwd: string } | S | undefined {
  const given = (["migrations", "schema", "migrate"] as const).filter(
    (k) => values[k] !== undefined,
  );
  if (given.length > 1)
    throw new BadUsageError(
      `give one of --migrations, --schema, --migrate; got ${given.map((g) => `--${g}`).join(", ")}`,
    );
  if (values.migrations) return { migrations: path.resolve(values.migrations) };
  if (values.schema) return { schema: path.resolve(values.schema) };
  if (values.migrate) return { migrate: values.migrate, cwd: process.cwd() };
  return configured;
}

/** What `run`, `gate` and `load` all set up: the config, Postgres with the schema, the scenarios. */
export async function prepareRun(
  values: RunValues,
  positionals: string[],
  signal: AbortSignal,
  serviceArgs: (string | undefined)[],
  /** A command that only reads the schema: no scenario given and none configured is no error. */
  scenariosOptional = false,
) {
  nonEmpty(values, "service", "a bundled service name or a command line");
  nonEmpty(values, "config", "a file");
  nonEmpty(values, "postgres", "a provider");
  const seed = parseSeed(values.seed);
  const concurrency = parseConcurrency(values.concurrency);
  const only = parseCells(values.cell);
  const readyTimeoutMs = parseReadyTimeout(values["ready-timeout"]);
  const output = consoleOutput(values);

  const { findConfigFile, loadConfig } = await import("../config/index.ts");
  const configFile = values.config ?? (await findConfigFile());
  const config = configFile ? await loadConfig(configFile) : undefined;
  if (config) output.progress(`config ${path.relative(process.cwd(), config.file) || config.file}`);
  const allowRemote = Boolean(values["allow-remote"]) || (config?.database.allowRemote ?? false);
  const schema = schemaFromFlags(values, config?.database.schema);
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
            const { migrateByStartingService } = await import("../scenario/index.ts");
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
      import("../service/index.ts").then(({ resolveService }) =>
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
      await import("../scenario/index.ts");
    const scenarios = [];
    const targets = positionals.length ? positionals : (config?.scenarios ?? []);
    const files = scenariosOptional && !targets.length ? [] : await findScenarioFiles(targets);
    for (const file of files) scenarios.push(await loadScenario(file));
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
