import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesTagged, ROOT, runCli } from "./cli.ts";

// A service shaped like a Next.js + drizzle SaaS: drizzle-kit migrations in lib/db/migrations,
// its Stripe webhook at /api/stripe/webhook, its database URL in POSTGRES_URL, no /healthz.
const PROJECT = path.join(ROOT, "fixtures", "projects", "drizzle-saas");
const CONFIG = path.join(PROJECT, "faultline.config.ts");

interface JsonReport {
  exitCode: number;
  scenarios: {
    name: string;
    verdict: string;
    invariants: { name: string; passed: boolean; evidence: string[] }[];
    deliveries: { status: number }[];
  }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-own-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A config for the drizzle-saas project with restart perRun and these extra variables. */
async function perRunConfig(name: string, env: Record<string, string | number>): Promise<string> {
  const config = path.join(dir, `${name}.config.ts`);
  await writeFile(
    config,
    `import { defineConfig } from "faultline";
export default defineConfig({
  service: {
    command: 'exec node server.mjs --port "$PORT"',
    cwd: ${JSON.stringify(PROJECT)},
    env: ({ databaseUrl }) => ({ POSTGRES_URL: databaseUrl, ...${JSON.stringify(env)} }),
    ready: { path: "/" },
    restart: "perRun",
  },
  database: { migrations: ${JSON.stringify(path.join(PROJECT, "lib/db/migrations"))} },
  webhooks: { stripe: { path: "/api/stripe/webhook" } },
  scenarios: ${JSON.stringify(path.join(PROJECT, "faultline"))},
});
`,
  );
  return config;
}

describe("a team's own service, described by faultline.config.ts", () => {
  it("runs the config's scenarios: the current schema passes, one migration behind fails", async () => {
    const json = path.join(dir, "all.json");
    const run = await runCli(["run", "--config", CONFIG, "--json", json]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const report = JSON.parse(await readFile(json, "utf8")) as JsonReport;
    const byName = new Map(report.scenarios.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(["behind-on-migrations", "subscription-updated"]);
    const updated = byName.get("subscription-updated");
    expect(updated?.verdict).toBe("pass");
    expect(updated?.invariants.map((i) => i.name)).toEqual([
      "processingContinues",
      "noCascade",
      "noLostEvents",
      "effectOnce",
    ]);
    const behind = byName.get("behind-on-migrations");
    expect(behind?.verdict).toBe("fail");
    expect(behind?.deliveries.map((d) => d.status)).toEqual([500, 500]);
    const continues = behind?.invariants.find((i) => i.name === "processingContinues");
    expect(continues?.passed).toBe(false);
    // The oracle saw the real cause in the server's log: the column the later migration adds.
    expect(continues?.evidence.join("\n")).toContain(
      'ERROR 42703: column "cancel_at_period_end" of relation "subscriptions" does not exist',
    );
    const subscribed = behind?.invariants.find((i) => i.name === "sql(both teams subscribed)");
    expect(subscribed?.passed).toBe(false);
  });

  it("finds the config from the project's folder and runs one scenario", async () => {
    const run = await runCli(["run", "faultline/subscription-updated.scenario.ts"], {}, PROJECT);
    expect(run.stdout).toContain("faultline: config faultline.config.ts");
    expect(run.stdout).toMatch(/PASS {2}subscription-updated/);
    expect(run.code).toBe(0);
  });

  it("--service replaces the command and keeps the rest of the service block", async () => {
    const run = await runCli(
      [
        "run",
        "--config",
        CONFIG,
        "--service",
        'STARTUP_DELAY_MS=300 exec node server.mjs --port "$PORT"',
        path.join(PROJECT, "faultline", "subscription-updated.scenario.ts"),
      ],
      {},
    );
    expect(run.stdout).toMatch(/PASS {2}subscription-updated/);
    expect(run.code).toBe(0);
  });

  it("a service that never becomes ready: exit 3 with its last output", async () => {
    const run = await runCli([
      "run",
      "--config",
      CONFIG,
      "--ready-timeout",
      "700",
      "--service",
      "echo 'booting the app server'; sleep 30",
      path.join(PROJECT, "faultline", "subscription-updated.scenario.ts"),
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(
      /did not answer a status below 500 on GET http:\/\/127\.0\.0\.1:\d+\/ within 700 ms/,
    );
    expect(run.stdout).toContain("booting the app server");
  });

  it("stops the whole process group, past a shell that would not pass SIGTERM on", async () => {
    const tag = `own-${process.pid}-${Date.now()}`;
    const run = await runCli(
      [
        "run",
        "--config",
        CONFIG,
        "--service",
        // The shell waits on node instead of exec-ing it, as npm exec and npx do.
        'node server.mjs --port "$PORT"; echo unreachable',
        path.join(PROJECT, "faultline", "subscription-updated.scenario.ts"),
      ],
      { FAULTLINE_TEST_TAG: tag },
    );
    expect(run.code).toBe(0);
    expect(processesTagged("FAULTLINE_TEST_TAG", tag)).toEqual([]);
  });

  it("restart perRun: one service process for the run, each scenario on its own clone", async () => {
    const starts = path.join(dir, "starts.log");
    const config = await perRunConfig("per-run", { START_LOG: starts, STARTUP_DELAY_MS: 500 });
    const json = path.join(dir, "per-run.json");
    const run = await runCli(["run", "--config", config, "--json", json]);
    expect(run.code).toBe(1);
    const report = JSON.parse(await readFile(json, "utf8")) as JsonReport;
    expect(Object.fromEntries(report.scenarios.map((s) => [s.name, s.verdict]))).toEqual({
      "behind-on-migrations": "fail",
      "subscription-updated": "pass",
    });
    // The failing scenario ran first on its own clone; the next one still saw a fresh database.
    const lines = (await readFile(starts, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(1);
  });

  it("restart perRun: a service that queries as it boots, and one that dies, are served", async () => {
    const starts = path.join(dir, "starts-dies.log");
    const config = await perRunConfig("per-run-dies", {
      START_LOG: starts,
      BOOT_QUERY: 1,
      EXIT_AFTER_WEBHOOKS: 2,
    });
    const scenario = path.join(PROJECT, "faultline", "subscription-updated.scenario.ts");
    const again = path.join(dir, "again.scenario.ts");
    await writeFile(
      again,
      (await readFile(scenario, "utf8")).replace('name: "subscription-updated"', 'name: "again"'),
    );
    const run = await runCli(["run", "--config", config, scenario, again]);
    // Each scenario sends two webhooks, after which the service exits: it is started again.
    expect(run.stdout).toMatch(/PASS {2}subscription-updated/);
    expect(run.stdout).toMatch(/PASS {2}again/);
    expect(run.code).toBe(0);
    expect((await readFile(starts, "utf8")).trim().split("\n")).toHaveLength(2);
  });

  it("a failing service.build: exit 3 with the build's output, before any scenario", async () => {
    const config = path.join(dir, "faultline.config.ts");
    await writeFile(
      config,
      `import { defineConfig } from "faultline";
export default defineConfig({
  service: { command: "exec node server.mjs", cwd: ${JSON.stringify(PROJECT)}, build: "echo 'Type error: x is not assignable'; exit 7" },
  database: { migrations: ${JSON.stringify(path.join(PROJECT, "lib/db/migrations"))} },
  scenarios: ${JSON.stringify(path.join(PROJECT, "faultline"))},
});
`,
    );
    const run = await runCli(["run", "--config", config]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("service.build exited with code 7");
    expect(run.stderr).toContain("Type error: x is not assignable");
    expect(run.stdout).not.toMatch(/PASS|FAIL/);
  });

  it("bad input names the file and the field, and exits 2 before anything starts", async () => {
    const config = path.join(dir, "bad.config.ts");
    await writeFile(
      config,
      `export default { service: { command: "node server.mjs", ready: { path: "health" } }, database: { migrations: "db", schema: "dump.sql" }, webhooks: { strype: { path: "/hook" } } };\n`,
    );
    const bad = await runCli(["run", "--config", config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("bad.config.ts: ");
    expect(bad.stderr).toContain('field "service.ready.path": expected a path starting with "/"');
    expect(bad.stderr).toContain(
      'field "database": expected at most one of migrations, migrate, schema',
    );

    const missing = await runCli(["run", "--config", path.join(dir, "nope.config.ts")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.config.ts: no such file");

    const major = await runCli(["run", "--config", CONFIG, "--postgres", "embedded:9"]);
    expect(major.code).toBe(2);
    expect(major.stderr).toContain("--postgres");

    const empty = path.join(dir, "empty-scenarios");
    await writeFile(
      path.join(dir, "empty.config.ts"),
      `export default { service: { command: "true" }, scenarios: ${JSON.stringify(`${empty}/**/*.scenario.ts`)} };\n`,
    );
    const nothing = await runCli(["run", "--config", path.join(dir, "empty.config.ts")]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("the pattern matches no *.scenario.ts file");
  });
});
