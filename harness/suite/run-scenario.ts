import path from "node:path";
import { pathToFileURL } from "node:url";
import { findConfigFile, loadConfig, type ResolvedConfig } from "../config/index.ts";
import {
  BadRulesError,
  BadScenarioError,
  BadUsageError,
  type ErrorCode,
  FaultlineError,
  PostgresFailedError,
  ScenarioNotFoundError,
  ServiceFailedError,
  UnsafeDatabaseError,
} from "../errors.ts";
import { runExitHooksNow } from "../lifecycle/index.ts";
import {
  type PostgresProvider,
  type RunEnvironment,
  resolvePostgresProvider,
  type SchemaSource,
  startEnvironment,
} from "../postgres/index.ts";
import {
  describeCell,
  displayPath,
  findScenarioFiles,
  type LoadedScenario,
  loadScenario,
  runScenarios,
  type ScenarioInput,
  type ScenarioResult,
  validateScenario,
} from "../scenario/index.ts";
import { type ResolvedService, resolveService, type ServiceSpec } from "../service/index.ts";

/** A service as `runScenario` takes it: a bundled name, a command line, or a full spec. */
export type ServiceOption = string | (Omit<ServiceSpec, "label"> & { label?: string });

/** How `runScenario` runs a scenario; every field is optional. */
export interface RunScenarioOptions {
  /**
   * `payments:fixed`, `payments:broken`, a shell command line (which replaces the config's
   * `service.command` and keeps the rest of its block, as `--service` does) or a full spec.
   * Default: the config's service, else `payments:fixed`.
   */
  service?: ServiceOption;
  /**
   * A faultline.config file (relative to the current folder). Default: the one in the current
   * folder or the nearest parent, as the CLI finds it; `false`: none.
   */
  config?: string | false;
  /**
   * `embedded` (the default), `embedded:<major>`, `container[:image]`, `url:postgres://…` or a
   * provider value. Default: the config's `database.postgres`.
   */
  postgres?: string | PostgresProvider;
  /** Allow a `url:` server that is not on this machine's loopback (`--allow-remote`). */
  allowRemote?: boolean;
  /**
   * The schema, replacing the config's: `{ migrations: dir }`, `{ schema: pgDumpFile }` or
   * `{ migrate: command, cwd }`; relative paths are from the current folder.
   */
  schema?: SchemaSource;
  /** Overrides the scenario's `randomSeed` (`--seed`). */
  seed?: number;
  /** How long the service may take to become ready, in milliseconds (default: the config's, else 15000). */
  readyTimeoutMs?: number;
  /** How many cells of a scenario's matrix run at once (`--concurrency`). */
  concurrency?: number;
  /** Keep each cell's proxy trace in this folder (`--trace-dir`). */
  traceDir?: string;
  /** Stops the run: the service is stopped and the scenario's database dropped. */
  signal?: AbortSignal;
  /** Lines about start-up worth showing (schema detected, template cache); silent by default. */
  onProgress?: (line: string) => void;
}

/**
 * A scenario's outcome. For a scenario without a matrix, its one result; with a matrix, the
 * result of its first failing cell (else its first cell), so `verdict` is "fail" when any cell
 * failed. `cells` holds every cell's result.
 */
export interface ScenarioRun extends ScenarioResult {
  /** Every cell's result, in the matrix's order; one for a scenario without a matrix. */
  cells: ScenarioResult[];
}

/** What one cache entry holds: a promise, so concurrent calls share one start. */
type Cached<T> = Map<string, Promise<T>>;

const configs: Cached<ResolvedConfig> = new Map();
const services: Cached<ResolvedService> = new Map();
const environments: Cached<RunEnvironment> = new Map();
const providerIds = new WeakMap<PostgresProvider, number>();
let providerCount = 0;

/** The cached promise under `key`, started by `start` on first use; a failed start is forgotten. */
function cached<T>(cache: Cached<T>, key: string, start: () => Promise<T>): Promise<T> {
  let entry = cache.get(key);
  if (!entry) {
    entry = start();
    cache.set(key, entry);
    entry.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
  }
  return entry;
}

function bad(field: string, expected: string, got: unknown): BadUsageError {
  return new BadUsageError(
    `runScenario: options.${field}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`,
  );
}

function checkOptions(options: RunScenarioOptions): void {
  const { seed, readyTimeoutMs, concurrency, service, config, postgres } = options;
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1))
    throw bad("seed", "a whole number from 0 to 4294967295", seed);
  if (readyTimeoutMs !== undefined && !(Number.isInteger(readyTimeoutMs) && readyTimeoutMs > 0))
    throw bad("readyTimeoutMs", "milliseconds (a whole number above 0)", readyTimeoutMs);
  if (
    concurrency !== undefined &&
    !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)
  )
    throw bad("concurrency", "how many cells run at once, 1 to 64", concurrency);
  if (typeof service === "string" && service.trim() === "")
    throw bad("service", "a bundled service name or a command line", service);
  if (
    service !== undefined &&
    typeof service !== "string" &&
    (typeof service !== "object" ||
      service === null ||
      typeof service.command !== "string" ||
      service.command.trim() === "")
  )
    throw bad(
      "service",
      "a bundled service name, a command line, or { command, env?, cwd?, ready?, … }",
      service,
    );
  if (config !== undefined && config !== false && (typeof config !== "string" || !config.trim()))
    throw bad("config", "a faultline.config file, or false for none", config);
  if (typeof postgres === "string" && postgres.trim() === "")
    throw bad("postgres", "a provider such as embedded, embedded:16, container, url:…", postgres);
}

/** The config this call uses, loaded once per file. */
async function configFor(option: string | false | undefined): Promise<ResolvedConfig | undefined> {
  if (option === false) return undefined;
  const file = option === undefined ? await findConfigFile() : path.resolve(option);
  if (!file) return undefined;
  return cached(configs, file, () => loadConfig(file));
}

/** The service spec this call uses; a bundled one is compiled once per process. */
async function serviceFor(
  option: ServiceOption | undefined,
  config: ResolvedConfig | undefined,
): Promise<ServiceSpec> {
  if (typeof option === "object")
    return { ...option, label: option.label ?? option.command.trim() };
  const value = option ?? (config ? undefined : "payments:fixed");
  const key = JSON.stringify([value ?? null, config?.file ?? null]);
  return (await cached(services, key, () => resolveService(value, config?.service))).spec;
}

/** The schema source with absolute paths, as the environment's cache key needs them. */
function absoluteSchema(schema: SchemaSource): SchemaSource {
  if ("migrations" in schema) return { migrations: path.resolve(schema.migrations) };
  if ("schema" in schema) return { schema: path.resolve(schema.schema) };
  return { migrate: schema.migrate, cwd: path.resolve(schema.cwd ?? ".") };
}

const STOP_SIGNALS: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
let signalsWatched = false;

/**
 * vitest ends its worker processes with SIGTERM, and a signal ends Node without its "exit"
 * event, so the exit hooks that stop Postgres and remove its data dir would never run. While
 * environments run, a stop signal runs those hooks first, then ends the process as the signal
 * would have (unless the process listens for it itself, and so decides).
 */
function cleanUpOnSignals(): void {
  if (signalsWatched) return;
  signalsWatched = true;
  const onSignal = (signal: NodeJS.Signals) => {
    runExitHooksNow();
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    signalsWatched = false;
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
}

/**
 * Postgres with the migrated template, started once per process for each (provider, schema)
 * and shared by every later call: the first call pays for the start, the rest only clone.
 */
function environmentFor(
  postgres: string | PostgresProvider,
  schema: SchemaSource | undefined,
  allowRemote: boolean,
  onProgress: ((line: string) => void) | undefined,
): Promise<RunEnvironment> {
  let providerKey: string;
  if (typeof postgres === "string") providerKey = postgres;
  else {
    let id = providerIds.get(postgres);
    if (id === undefined) {
      id = ++providerCount;
      providerIds.set(postgres, id);
    }
    providerKey = `${postgres.name}#${id}`;
  }
  const provider =
    typeof postgres === "string"
      ? resolvePostgresProvider(postgres, { allowRemote, where: "runScenario: options.postgres" })
      : postgres;
  const key = JSON.stringify([providerKey, schema ?? null, allowRemote]);
  cleanUpOnSignals();
  return cached(environments, key, () =>
    startEnvironment({
      provider,
      allowNonLoopback: allowRemote,
      ...(schema ? { schema } : {}),
      ...(onProgress ? { onProgress } : {}),
    }),
  );
}

/**
 * True when this module is TypeScript run by vitest: this repository's own tests, where the
 * harness is its sources transformed by vite. The CLI's way of loading a scenario (esbuild, then
 * a native import that reaches "faultline" as a file URL) cannot import TypeScript on Node 20;
 * there the scenario file is imported through vitest, which resolves "faultline" to these same
 * sources. An installed package is JavaScript and always loads scenarios the CLI's way.
 */
const THROUGH_VITEST = import.meta.url.endsWith(".ts") && Boolean(process.env.VITEST);

async function loadThroughHost(file: string): Promise<LoadedScenario> {
  const shown = displayPath(file);
  let module: { default?: unknown };
  try {
    module = await import(/* @vite-ignore */ pathToFileURL(file).href);
  } catch (error) {
    throw new BadScenarioError(shown, `cannot be loaded: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (module.default === undefined)
    throw new BadScenarioError(
      shown,
      "has no default export (expected `export default defineScenario({...})`)",
    );
  return { file, scenario: await validateScenario(module.default, shown) };
}

/** The scenario as a loaded one: a file is found and imported, a value validated. */
async function scenarioFor(scenario: string | ScenarioInput): Promise<LoadedScenario> {
  if (typeof scenario === "string") {
    if (scenario.trim() === "")
      throw new BadUsageError(
        "runScenario: expected a scenario file or value, got an empty string",
      );
    const files = await findScenarioFiles([scenario]);
    if (files.length !== 1)
      throw new BadUsageError(
        `runScenario: ${scenario} holds ${files.length} scenario files; give one file (or call runScenario for each)`,
      );
    const file = files[0] as string;
    return THROUGH_VITEST ? loadThroughHost(file) : loadScenario(file);
  }
  if (typeof scenario !== "object" || scenario === null)
    throw new BadUsageError(
      `runScenario: expected a scenario file or a defineScenario({...}) value, got ${scenario === null ? "null" : typeof scenario}`,
    );
  // A value has no file: it is named in errors by its name, and relative paths in it (recorded
  // fixtures) are read from the current folder.
  const name = (scenario as { name?: unknown }).name;
  const shown = typeof name === "string" && name ? `scenario ${JSON.stringify(name)}` : "scenario";
  return { file: shown, scenario: await validateScenario(scenario, shown) };
}

/** A word as a POSIX shell reads it back: quoted only when it must be. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** The CLI command line that runs a cell again, for a scenario that came from a file. */
function replayLine(result: ScenarioResult, options: RunScenarioOptions): string {
  const words = ["npx", "faultline", "run", result.file];
  if (typeof options.config === "string") words.push("--config", options.config);
  if (options.service !== undefined)
    words.push(
      "--service",
      typeof options.service === "string" ? options.service : options.service.command,
    );
  if (typeof options.postgres === "string") words.push("--postgres", options.postgres);
  if (options.allowRemote) words.push("--allow-remote");
  const schema = options.schema;
  if (schema && "migrations" in schema) words.push("--migrations", schema.migrations);
  else if (schema && "schema" in schema) words.push("--schema", schema.schema);
  else if (schema && "migrate" in schema) words.push("--migrate", schema.migrate);
  words.push("--seed", String(result.seed));
  return words.map(shellQuote).join(" ");
}

type Rebuild = (message: string, result: ScenarioResult) => FaultlineError;

/** Each error a cell can end in, rebuilt as its own class so `instanceof` works for callers. */
const REBUILD: Partial<Record<ErrorCode, Rebuild>> = {
  FL_BAD_SCENARIO: (message, result) => {
    const prefix = `${result.file}: `;
    return new BadScenarioError(
      result.file,
      message.startsWith(prefix) ? message.slice(prefix.length) : message,
    );
  },
  FL_BAD_USAGE: (message) => new BadUsageError(message),
  FL_BAD_RULES: (message) => {
    const at = message.indexOf(": ");
    return at < 0
      ? new BadRulesError("rules", message)
      : new BadRulesError(message.slice(0, at), message.slice(at + 2));
  },
  FL_SCENARIO_NOT_FOUND: (message) => new ScenarioNotFoundError(message),
  FL_POSTGRES_FAILED: (message) => new PostgresFailedError(message),
  FL_UNSAFE_DATABASE: (message) => new UnsafeDatabaseError(message),
  FL_SERVICE_FAILED: (message) => {
    const tail = /\n--- last \d+ lines of service output ---\n([\s\S]*)$/.exec(message);
    if (tail)
      return new ServiceFailedError(message.slice(0, tail.index), (tail[1] as string).split("\n"));
    return new ServiceFailedError(message.replace(/\n\(the service printed nothing\)$/, ""), []);
  },
};

/** The error a cell that could not be judged ended in, with its cell named when it has one. */
function errorOf(result: ScenarioResult): FaultlineError {
  const { code, message } = result.error as NonNullable<ScenarioResult["error"]>;
  const cell = result.cell ? `cell ${describeCell(result.cell)}: ` : "";
  const rebuild = REBUILD[code as ErrorCode];
  const error = rebuild ? rebuild(message, result) : new FaultlineError(code as ErrorCode, message);
  if (cell) error.message = `${cell}${error.message}`;
  return error;
}

/** `promise`, or its signal's reason as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

const VERDICT_RANK = { pass: 0, fail: 1, error: 2 } as const;

/**
 * Run one scenario — a `.scenario.ts` file or a `defineScenario({...})` value — against the
 * service, on its own database cloned from a migrated template, and return its verdict with
 * the evidence. Postgres and the template are started on the first call and reused by later
 * ones; `stopEnvironments()` stops them (they are also stopped when the process exits).
 *
 * Throws faultline's own errors, with the messages the CLI prints, for bad input (a missing or
 * invalid scenario, config or option) and for a cell that could not be judged (the service or
 * Postgres failed).
 */
export async function runScenario(
  scenario: string | ScenarioInput,
  options: RunScenarioOptions = {},
): Promise<ScenarioRun> {
  checkOptions(options);
  options.signal?.throwIfAborted();
  const config = await configFor(options.config);
  const [loaded, service] = await Promise.all([
    scenarioFor(scenario),
    serviceFor(options.service, config),
  ]);
  const allowRemote = options.allowRemote ?? config?.database.allowRemote ?? false;
  const schema = options.schema ? absoluteSchema(options.schema) : config?.database.schema;
  // The environment is shared, so one caller's signal stops its wait, not the start.
  const environment = await abortable(
    environmentFor(
      options.postgres ?? config?.database.postgres ?? "embedded",
      schema,
      allowRemote,
      options.onProgress,
    ),
    options.signal,
  );
  const summary = await runScenarios([loaded], environment, {
    service,
    seed: options.seed,
    concurrency: options.concurrency,
    readyTimeoutMs: options.readyTimeoutMs ?? config?.service.readyTimeoutMs,
    webhookPaths: config?.webhookPaths,
    ...(config?.stripeApiVersion ? { stripeApiVersion: config.stripeApiVersion } : {}),
    traceDir: options.traceDir ? path.resolve(options.traceDir) : undefined,
    signal: options.signal,
    onProgress: options.onProgress,
  });
  const cells = summary.results;
  const errored = cells.find((cell) => cell.error);
  if (errored) throw errorOf(errored);
  const fromFile = typeof scenario === "string";
  for (const cell of cells) if (fromFile) cell.replay = replayLine(cell, options);
  const worst = cells.reduce((a, b) => (VERDICT_RANK[b.verdict] > VERDICT_RANK[a.verdict] ? b : a));
  return { ...worst, cells };
}

/**
 * Stop every Postgres `runScenario` started and remove the service bundles it built. Call it in
 * `afterAll`; the next `runScenario` starts afresh.
 */
export async function stopEnvironments(): Promise<void> {
  const running = [...environments.values()];
  const built = [...services.values()];
  environments.clear();
  services.clear();
  configs.clear();
  await Promise.allSettled([
    ...running.map((environment) => environment.then((e) => e.stop())),
    ...built.map((service) => service.then((s) => s.dispose())),
  ]);
}
