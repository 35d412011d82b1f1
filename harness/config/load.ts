import { stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { BadConfigError } from "../errors.ts";
import { formatIssues, importModule } from "../scenario/index.ts";
import {
  isStripeApiVersion,
  STRIPE_API_VERSIONS,
  type StripeApiVersion,
  webhookProviders,
} from "../webhooks/index.ts";
import type { FaultlineConfig, ServiceEnvContext, ServiceEnvInput } from "./define.ts";

/** The names faultline looks for, in this order, in the current folder and then its parents. */
export const CONFIG_FILE_NAMES = [
  "faultline.config.ts",
  "faultline.config.mts",
  "faultline.config.mjs",
  "faultline.config.js",
];

/** Where the schema comes from, with absolute paths. */
export type ConfiguredSchema =
  | { migrations: string }
  | { migrate: string; cwd: string; watch?: string[]; watchBase?: string }
  | { schema: string };

/** A config after validation, every path made absolute. */
export interface ResolvedConfig {
  file: string;
  dir: string;
  service: {
    command: string;
    cwd: string;
    env: (context: ServiceEnvContext) => Record<string, string>;
    ready: { path: string; status?: number };
    readyTimeoutMs: number | undefined;
    build: string | undefined;
    restart: "perScenario" | "perRun";
  };
  database: {
    schema: ConfiguredSchema | undefined;
    postgres: string | undefined;
    allowRemote: boolean;
  };
  webhookPaths: Record<string, string>;
  /** `webhooks.stripe.apiVersion`, when given. */
  stripeApiVersion?: StripeApiVersion;
  /** Absolute folders, files or glob patterns; undefined when the config names none. */
  scenarios: string[] | undefined;
}

const urlPath = z
  .string()
  .regex(/^\//, 'expected a path starting with "/", like "/api/stripe/webhook"');
const envValue = z.union([z.string(), z.number(), z.boolean()]);

const configSchema = z.strictObject({
  service: z.strictObject({
    command: z.string().trim().min(1, "expected the command line that starts your service"),
    cwd: z.string().min(1).optional(),
    env: z
      .union([
        z.record(z.string(), envValue),
        z.custom<(context: ServiceEnvContext) => Record<string, unknown>>(
          (value) => typeof value === "function",
        ),
      ])
      .optional(),
    ready: z
      .strictObject({
        path: urlPath.optional(),
        status: z.number().int().min(100).max(599).optional(),
      })
      .optional(),
    readyTimeout: z.number().int().positive("expected milliseconds above 0").optional(),
    build: z.string().trim().min(1).optional(),
    restart: z.enum(["perScenario", "perRun"]).optional(),
  }),
  database: z
    .strictObject({
      migrations: z.string().min(1).optional(),
      migrate: z.string().trim().min(1).optional(),
      watch: z.array(z.string().min(1)).min(1).optional(),
      schema: z.string().min(1).optional(),
      postgres: z.string().min(1).optional(),
      allowRemote: z.boolean().optional(),
    })
    .superRefine((db, ctx) => {
      const given = (["migrations", "migrate", "schema"] as const).filter(
        (k) => db[k] !== undefined,
      );
      if (given.length > 1)
        ctx.addIssue({
          code: "custom",
          message: `expected at most one of migrations, migrate, schema; got ${given.join(", ")}`,
        });
      if (db.watch && db.migrate === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["watch"],
          message: "only with migrate: a migrations folder or a schema file is its own cache key",
        });
    })
    .optional(),
  webhooks: z
    .record(
      z.string(),
      z.strictObject({
        path: urlPath,
        /** Stripe: the API version the endpoint is pinned to; fixtures are sent in its shape. */
        apiVersion: z
          .string()
          .refine(isStripeApiVersion, {
            message: `expected a Stripe API version faultline has the shape of: ${STRIPE_API_VERSIONS.join(", ")}`,
          })
          .optional(),
      }),
    )
    .optional(),
  scenarios: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
});

/** The config file in `from` or the nearest parent folder that has one. */
export async function findConfigFile(from = process.cwd()): Promise<string | undefined> {
  let dir = path.resolve(from);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (
        await stat(candidate).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Import a config file and validate it; mistakes name the file and the field. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const full = path.resolve(file);
  const shown = path.relative(process.cwd(), full) || full;
  if (
    !(await stat(full).then(
      (s) => s.isFile(),
      () => false,
    ))
  )
    throw new BadConfigError(shown, "no such file");
  let module: { default?: unknown };
  try {
    module = await importModule(full);
  } catch (error) {
    throw new BadConfigError(shown, `cannot be loaded: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (module.default === undefined)
    throw new BadConfigError(
      shown,
      "has no default export (expected `export default defineConfig({...})`)",
    );
  const parsed = configSchema.safeParse(module.default);
  if (!parsed.success) throw new BadConfigError(shown, formatIssues(parsed.error.issues));
  return resolveConfig(shown, full, parsed.data as FaultlineConfig);
}

function resolveConfig(shown: string, file: string, config: FaultlineConfig): ResolvedConfig {
  const dir = path.dirname(file);
  const at = (p: string) => path.resolve(dir, p);
  for (const name of Object.keys(config.webhooks ?? {})) {
    if (!webhookProviders[name])
      throw new BadConfigError(
        shown,
        `field "webhooks.${name}": unknown webhook provider (known: ${Object.keys(webhookProviders).join(", ")})`,
      );
  }
  const db = config.database ?? {};
  const service = config.service;
  const cwd = at(service.cwd ?? ".");
  const schema = db.migrations
    ? { migrations: at(db.migrations) }
    : db.schema
      ? { schema: at(db.schema) }
      : db.migrate
        ? { migrate: db.migrate, cwd, ...(db.watch ? { watch: db.watch, watchBase: dir } : {}) }
        : undefined;
  const scenarios =
    config.scenarios === undefined
      ? undefined
      : (Array.isArray(config.scenarios) ? config.scenarios : [config.scenarios]).map(at);
  return {
    file,
    dir,
    service: {
      command: service.command,
      cwd,
      env: serviceEnv(shown, service.env),
      ready: { path: service.ready?.path ?? "/", status: service.ready?.status },
      readyTimeoutMs: service.readyTimeout,
      build: service.build,
      restart: service.restart ?? "perScenario",
    },
    database: { schema, postgres: db.postgres, allowRemote: db.allowRemote ?? false },
    webhookPaths: Object.fromEntries(
      Object.entries(config.webhooks ?? {}).map(([name, w]) => [name, w.path]),
    ),
    ...(config.webhooks?.stripe?.apiVersion
      ? { stripeApiVersion: config.webhooks.stripe.apiVersion as StripeApiVersion }
      : {}),
    scenarios,
  };
}

/** `service.env` as a function that always returns strings; a bad value names its variable. */
function serviceEnv(
  shown: string,
  env: ServiceEnvInput | undefined,
): (context: ServiceEnvContext) => Record<string, string> {
  return (context) => {
    let values: unknown;
    try {
      values = typeof env === "function" ? env(context) : (env ?? {});
    } catch (error) {
      throw new BadConfigError(shown, `field "service.env": threw ${(error as Error).message}`);
    }
    if (typeof values !== "object" || values === null || Array.isArray(values))
      throw new BadConfigError(
        shown,
        'field "service.env": expected it to return an object of variables',
      );
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (!["string", "number", "boolean"].includes(typeof value))
        throw new BadConfigError(
          shown,
          `field "service.env.${key}": expected a string, number or boolean, got ${value === null ? "null" : typeof value}`,
        );
      out[key] = String(value);
    }
    return out;
  };
}
