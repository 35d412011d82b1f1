import { ServiceFailedError } from "../errors.ts";
import { freePort, type ScenarioDatabase, type StartedPostgres } from "../postgres/index.ts";
import { type FaultEvent, type RuleSpec, type StartedProxy, startProxy } from "../proxy/index.ts";
import {
  runBuild,
  type ServiceEnv,
  type ServiceSpec,
  type StartedService,
  startService,
} from "../service/index.ts";

/** What one scenario gets from its host: where to send webhooks, and the proxy in front of Postgres. */
export interface Attachment {
  service: StartedService;
  proxy: StartedProxy;
}

/** What a scenario asks of its host. */
export interface AttachRequest {
  db: ScenarioDatabase;
  rules: RuleSpec[];
  seed: number;
  tracePath: string;
  secret: string;
  onFault(event: FaultEvent): void;
}

/**
 * Hosts the service under test for the scenarios of a run: either a fresh service and proxy per
 * scenario, or one of each for the whole run. `release` returns only once the service holds no
 * connection to the scenario's database, so the database can be dropped.
 */
export interface ServiceHost {
  /** The secret every scenario must sign with, when the host fixes one for the run. */
  readonly runSecret: string | undefined;
  attach(request: AttachRequest): Promise<Attachment>;
  release(attachment: Attachment): Promise<void>;
  close(): Promise<void>;
}

/** The options every host needs. */
export interface HostOptions {
  server: StartedPostgres;
  spec: ServiceSpec;
  readyTimeoutMs: number | undefined;
  signal: AbortSignal | undefined;
}

function serviceEnv(
  spec: ServiceSpec,
  databaseUrl: string,
  port: number,
  webhookSecret: string,
): ServiceEnv {
  const own = {
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    STRIPE_WEBHOOK_SECRET: webhookSecret,
  };
  // The contract's three variables are always set; the config's env adds its own names to them.
  return { ...spec.envFor?.({ databaseUrl, port, webhookSecret }), ...own };
}

/**
 * Start the service on a free port, and again on another (twice at most) if it died saying its
 * port was taken: the port is free when picked, but another process can bind it before the
 * service does, and that race is the harness's, not the service's.
 */
async function startOnFreePort(
  options: Pick<HostOptions, "spec" | "readyTimeoutMs" | "signal">,
  databaseUrl: string,
  webhookSecret: string,
  port?: number,
): Promise<{ service: StartedService; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const chosen = port ?? (await freePort());
    try {
      const service = await startService({
        spec: options.spec,
        env: serviceEnv(options.spec, databaseUrl, chosen, webhookSecret),
        readyTimeoutMs: options.readyTimeoutMs,
        signal: options.signal,
      });
      return { service, port: chosen };
    } catch (error) {
      if (attempt >= 3 || !(error instanceof ServiceFailedError) || !saysPortTaken(error.output))
        throw error;
      port = undefined;
    }
  }
}

/** Whether a dying service's output says its listening port was in use, in the words of the common stacks. */
export function saysPortTaken(output: readonly string[]): boolean {
  return output.some((line) =>
    /EADDRINUSE|address already in use|Errno 98|port is already allocated|bind\(\) failed|Only one usage of each socket address|Connection in use/i.test(
      line,
    ),
  );
}

/**
 * The URL the service gets: the server's own (user, password, options) for `database`, with
 * the proxy's address, so faults and the trace see every statement.
 */
export function throughProxy(
  server: StartedPostgres,
  proxy: StartedProxy,
  database: string,
): string {
  const url = new URL(server.urlFor(database));
  url.hostname = proxy.host;
  url.port = String(proxy.port);
  return url.toString();
}

/** A new proxy and a new service process for every scenario: nothing carries over. */
export function perScenarioHost(options: HostOptions): ServiceHost {
  const { server } = options;
  return {
    runSecret: undefined,
    async attach(request) {
      const proxy = await startProxy({
        upstream: { host: server.host, port: server.port },
        rules: request.rules,
        seed: request.seed,
        tracePath: request.tracePath,
        onFault: request.onFault,
      });
      try {
        const databaseUrl = throughProxy(server, proxy, request.db.name);
        const { service } = await startOnFreePort(options, databaseUrl, request.secret);
        return { service, proxy };
      } catch (error) {
        await proxy.stop();
        throw error;
      }
    },
    async release({ service, proxy }) {
      await service.stop();
      await proxy.stop();
    },
    async close() {},
  };
}

/** The database name a `perRun` service is given; the proxy routes it to each scenario's clone. */
export const PER_RUN_DATABASE = "faultline";
/** Where connections opened between two scenarios go: nowhere (the service sees 3D000). */
const BETWEEN_SCENARIOS = "faultline_between_scenarios";

/**
 * One service process and one proxy for the whole run, for services slow to start. The service
 * connects to `PER_RUN_DATABASE`; before each scenario the proxy ends every open connection and
 * routes new ones to that scenario's clone, so the service's pool reconnects to fresh data.
 * A service that died during a scenario is started again for the next one.
 */
export function perRunHost(options: HostOptions & { secret: string }): ServiceHost {
  const { server } = options;
  let proxy: StartedProxy | undefined;
  let service: StartedService | undefined;
  let port: number | undefined;
  const ensureProxy = async (): Promise<StartedProxy> => {
    proxy ??= await startProxy({
      upstream: { host: server.host, port: server.port },
      database: BETWEEN_SCENARIOS,
    });
    return proxy;
  };
  const ensureService = async (current: StartedProxy): Promise<StartedService> => {
    if (service?.running) return service;
    await service?.stop();
    const databaseUrl = throughProxy(server, current, PER_RUN_DATABASE);
    const started = await startOnFreePort(options, databaseUrl, options.secret, port);
    port = started.port;
    service = started.service;
    return service;
  };
  return {
    runSecret: options.secret,
    async attach(request) {
      // Route first, start (or restart) the service after: a service may query as it boots.
      const current = await ensureProxy();
      await current.beginScenario({
        database: request.db.name,
        rules: request.rules,
        seed: request.seed,
        tracePath: request.tracePath,
        onFault: request.onFault,
      });
      return { proxy: current, service: await ensureService(current) };
    },
    async release(attachment) {
      // End the scenario's connections so its clone can be dropped; the next attach reroutes.
      await attachment.proxy.beginScenario({ database: BETWEEN_SCENARIOS, rules: [] });
    },
    async close() {
      await service?.stop();
      await proxy?.stop();
    },
  };
}

/** Services already built in this process by {@link migrateByStartingService}: not built twice. */
export const builtForTemplate = new WeakSet<ServiceSpec>();

/** Run the service's build (`service.build`), saying so, with its time. */
export async function buildService(
  spec: ServiceSpec & { build: string },
  options: { signal?: AbortSignal; onProgress?: (line: string) => void },
): Promise<void> {
  options.onProgress?.(`building the service: ${spec.build}`);
  const { durationMs } = await runBuild({
    command: spec.build,
    cwd: spec.cwd ?? process.cwd(),
    env: spec.env,
    signal: options.signal,
  });
  options.onProgress?.(`built in ${(durationMs / 1000).toFixed(1)}s`);
}

/**
 * `database: { migrate: "service" }`: build the template by starting the service once on it
 * (straight to Postgres, no proxy), waiting until it is ready — by then a service that migrates
 * itself at start has migrated — and stopping it. Returns its output, for the check that it
 * created something. Builds the service first when it has a build (once per run).
 */
export async function migrateByStartingService(
  spec: ServiceSpec,
  databaseUrl: string,
  options: {
    readyTimeoutMs?: number;
    signal?: AbortSignal;
    onProgress?: (line: string) => void;
  } = {},
): Promise<string[]> {
  if (spec.build && !builtForTemplate.has(spec)) {
    await buildService({ ...spec, build: spec.build }, options);
    builtForTemplate.add(spec);
  }
  options.onProgress?.("starting the service once on the template: it migrates itself");
  const { service } = await startOnFreePort(
    { spec, readyTimeoutMs: options.readyTimeoutMs, signal: options.signal },
    databaseUrl,
    // Never used to sign: no webhook is sent while the template is built.
    "whsec_template_build_only",
  ).catch((error: unknown) => {
    // Said as what it was: building the template, before any scenario.
    if (!(error instanceof ServiceFailedError)) throw error;
    const head = error.message.split(
      /\n--- last \d+ lines of service output ---|\n\(the service printed nothing\)/,
    )[0];
    throw new ServiceFailedError(
      `database.migrate "service": building the template, ${head}`,
      error.output,
    );
  });
  const output = service.output();
  await service.stop();
  return output;
}
