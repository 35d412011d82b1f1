import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BadConfigError } from "../errors.ts";
import { findConfigFile, loadConfig } from "./index.ts";

// Under vitest Node cannot import the harness's .ts sources natively (the CLI imports its
// bundle); a config file only needs `defineConfig` from "faultline", so point it at a stand-in.
const API_URL = Symbol.for("faultline.apiUrl");
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-config-"));
  const api = path.join(dir, "faultline-api.mjs");
  await writeFile(api, "export const defineConfig = (config) => config;\n");
  (globalThis as Record<symbol, unknown>)[API_URL] = pathToFileURL(api).href;
});
afterEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[API_URL];
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

const nextApp = `
import { defineConfig } from "faultline";
export default defineConfig({
  service: {
    command: 'exec ./node_modules/.bin/next start -p "$PORT"',
    cwd: "./app",
    env: ({ databaseUrl, port, webhookSecret }) => ({ POSTGRES_URL: databaseUrl, BASE_URL: \`http://127.0.0.1:\${port}\`, SECRET: webhookSecret, WORKERS: 2 }),
    ready: { path: "/" },
    readyTimeout: 60_000,
    build: "npm run build",
    restart: "perRun",
  },
  database: { migrations: "./app/lib/db/migrations", postgres: "embedded:16" },
  webhooks: { stripe: { path: "/api/stripe/webhook" } },
  scenarios: "./faultline",
});
`;

describe("findConfigFile", () => {
  it("finds the config in a parent folder, .ts before .mjs", async () => {
    await write("faultline.config.mjs", "export default {}");
    const ts = await write("faultline.config.ts", "export default {}");
    await mkdir(path.join(dir, "a", "b"), { recursive: true });
    expect(await findConfigFile(path.join(dir, "a", "b"))).toBe(ts);
  });

  it("finds nothing when no folder up to the root has one", async () => {
    expect(await findConfigFile(dir)).toBeUndefined();
  });
});

describe("loadConfig", () => {
  it("resolves the issue's Next.js example: paths relative to the file, env made of the run's values", async () => {
    const file = await write("faultline.config.ts", nextApp);
    const config = await loadConfig(file);
    expect(config.service.cwd).toBe(path.join(dir, "app"));
    expect(config.service.restart).toBe("perRun");
    expect(config.service.build).toBe("npm run build");
    expect(config.service.readyTimeoutMs).toBe(60_000);
    expect(config.service.ready).toEqual({ path: "/", status: undefined });
    expect(config.database.schema).toEqual({ migrations: path.join(dir, "app/lib/db/migrations") });
    expect(config.database.postgres).toBe("embedded:16");
    expect(config.webhookPaths).toEqual({ stripe: "/api/stripe/webhook" });
    expect(config.scenarios).toEqual([path.join(dir, "faultline")]);
    expect(
      config.service.env({ databaseUrl: "postgres://x/db", port: 4321, webhookSecret: "whsec_1" }),
    ).toEqual({
      POSTGRES_URL: "postgres://x/db",
      BASE_URL: "http://127.0.0.1:4321",
      SECRET: "whsec_1",
      WORKERS: "2",
    });
  });

  it("runs a migrate command in the service's folder", async () => {
    const file = await write(
      "faultline.config.mjs",
      `export default { service: { command: "bin/rails s -p $PORT", cwd: "api" }, database: { migrate: "bin/rails db:migrate" } };`,
    );
    const config = await loadConfig(file);
    expect(config.database.schema).toEqual({
      migrate: "bin/rails db:migrate",
      cwd: path.join(dir, "api"),
    });
    expect(config.service.restart).toBe("perScenario");
  });

  it("names the file and every wrong field", async () => {
    const file = await write(
      "faultline.config.ts",
      `export default { service: { command: "", ready: { path: "health" }, restrat: "perRun" }, database: { migrations: "a", schema: "b" }, scenarios: [] };`,
    );
    const error = await loadConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadConfigError);
    const message = (error as Error).message;
    expect(message).toContain("faultline.config.ts: ");
    expect(message).toContain('field "service.command": expected the command line');
    expect(message).toContain('field "service.ready.path": expected a path starting with "/"');
    expect(message).toContain('field "service.restrat": unknown field');
    expect(message).toContain(
      'field "database": expected at most one of migrations, migrate, schema',
    );
    expect(message).toContain('field "scenarios"');
  });

  it("takes database.watch only beside migrate, resolving it against the config's folder", async () => {
    const bad = await write(
      "faultline.config.ts",
      `export default { service: { command: "x" }, database: { migrations: "db", watch: ["db/*.sql"] } };`,
    );
    await expect(loadConfig(bad)).rejects.toThrow(
      'field "database.watch": only with migrate: a migrations folder or a schema file is its own cache key',
    );
    const good = await write(
      "faultline.config.ts",
      `export default { service: { command: "x", cwd: "app" }, database: { migrate: "service", watch: ["db/*.sql"] } };`,
    );
    const config = await loadConfig(good);
    expect(config.database.schema).toEqual({
      migrate: "service",
      cwd: path.join(path.dirname(good), "app"),
      watch: ["db/*.sql"],
      watchBase: path.dirname(good),
    });
  });

  it("takes webhooks.stripe.apiVersion, and names the versions it knows when it is not one", async () => {
    const good = await write(
      "faultline.config.ts",
      `export default { service: { command: "x" }, webhooks: { stripe: { path: "/hook", apiVersion: "2024-06-20" } } };`,
    );
    expect((await loadConfig(good)).stripeApiVersion).toBe("2024-06-20");
    const bad = await write(
      "faultline.config.ts",
      `export default { service: { command: "x" }, webhooks: { stripe: { path: "/hook", apiVersion: "2019-01-01" } } };`,
    );
    await expect(loadConfig(bad)).rejects.toThrow(
      'field "webhooks.stripe.apiVersion": expected a Stripe API version faultline has the shape of: 2025-06-30.basil, 2024-06-20',
    );
  });

  it("names an unknown webhook provider and lists the known ones", async () => {
    const file = await write(
      "faultline.config.ts",
      `export default { service: { command: "x" }, webhooks: { strpie: { path: "/hook" } } };`,
    );
    await expect(loadConfig(file)).rejects.toThrow(
      /field "webhooks.strpie": unknown webhook provider \(known: stripe, /,
    );
  });

  it("names an env variable whose value is not a string", async () => {
    const file = await write(
      "faultline.config.ts",
      `export default { service: { command: "x", env: () => ({ OK: "1", BAD: { nested: true } }) } };`,
    );
    const config = await loadConfig(file);
    expect(() => config.service.env({ databaseUrl: "", port: 1, webhookSecret: "" })).toThrow(
      'field "service.env.BAD": expected a string, number or boolean, got object',
    );
  });

  it("reports a file that does not compile, and one without a default export", async () => {
    const broken = await write("broken.config.ts", "export default { service: {");
    await expect(loadConfig(broken)).rejects.toThrow(/broken\.config\.ts: cannot be loaded: 1:/);
    const empty = await write("empty.config.ts", "export const x = 1;");
    await expect(loadConfig(empty)).rejects.toThrow(/has no default export/);
    await expect(loadConfig(path.join(dir, "missing.ts"))).rejects.toThrow(/no such file/);
  });
});
