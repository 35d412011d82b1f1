import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

// A service that migrates itself at every start, as many do (a migrator run in code before
// listen): it puts back a column the scenario's drift dropped, unless told not to.
const SERVER = `import http from "node:http";
import pg from ${JSON.stringify(path.join(ROOT, "node_modules", "pg", "lib", "index.js"))};
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
if (process.env.SKIP_MIGRATIONS !== "1") {
  try {
    // BROKEN_MIGRATION: a migration that fails, and a migrator that logs it and carries on.
    if (process.env.BROKEN_MIGRATION === "1") await pool.query("CREATE TABLE stripe.users (id int)");
    await pool.query("CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text UNIQUE)");
    await pool.query("ALTER TABLE users ADD COLUMN IF NOT EXISTS credits_balance integer NOT NULL DEFAULT 0");
    console.log("migrations: up to date");
  } catch (error) {
    console.error("migration failed:", error.message);
  }
}
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", async () => {
    if (req.url === "/health") return res.end("ok");
    // A migrator on a timer, or a lazy one: the schema changes while the scenario runs.
    if (process.env.LATE_MIGRATION === "1")
      await pool.query("ALTER TABLE users ADD COLUMN IF NOT EXISTS credits_balance integer");
    const email = JSON.parse(body || "{}").data?.object?.customer_details?.email ?? "x@example.com";
    await pool.query("INSERT INTO users (email) VALUES ($1) ON CONFLICT DO NOTHING", [email]).catch(() => {});
    res.end("{}");
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

const SCENARIO = `import { defineScenario, dropColumn, noCascade } from "faultline";
export default defineScenario({
  name: "one-migration-behind",
  drift: [dropColumn("users.credits_balance")],
  webhooks: [{ fixture: "checkout.session.completed" }, { fixture: "checkout.session.completed" }],
  invariants: [noCascade()],
});
`;

const CLEAN = `import { defineScenario, noCascade, sql } from "faultline";
export default defineScenario({
  name: "clean",
  webhooks: [{ fixture: "checkout.session.completed", with: { email: "a@example.com" } }],
  invariants: [
    noCascade(),
    sql({ name: "user stored", query: "SELECT email, credits_balance FROM users", rows: [{ email: "a@example.com", credits_balance: 0 }] }),
  ],
});
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-self-migrating-"));
  await mkdir(path.join(dir, "migrations"));
  await mkdir(path.join(dir, "faultline"));
  await writeFile(
    path.join(dir, "migrations", "001_users.sql"),
    "CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, credits_balance integer NOT NULL DEFAULT 0);\n",
  );
  await writeFile(path.join(dir, "server.mjs"), SERVER);
  await writeFile(path.join(dir, "faultline", "behind.scenario.ts"), SCENARIO);
  await mkdir(path.join(dir, "clean"));
  await writeFile(path.join(dir, "clean", "clean.scenario.ts"), CLEAN);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(
  name: string,
  env: Record<string, string>,
  database = '{ migrations: "migrations" }',
  scenarios = "faultline",
): Promise<string> {
  const file = path.join(dir, `${name}.config.ts`);
  await writeFile(
    file,
    `import { defineConfig } from "faultline";
export default defineConfig({
  service: {
    command: "exec node server.mjs",
    cwd: ${JSON.stringify(dir)},
    env: ({ databaseUrl }) => ({ DATABASE_URL: databaseUrl, ...${JSON.stringify(env)} }),
    ready: { path: "/health" },
  },
  database: ${database},
  scenarios: ${JSON.stringify(scenarios)},
});
`,
  );
  return file;
}

interface Report {
  exitCode: number;
  scenarios: { verdict: string; error?: { message: string; exitCode: number } }[];
}

describe("drift a service undoes", () => {
  it("errors the scenario (exit 3) naming the column and the step when the service re-migrates at start", async () => {
    const json = path.join(dir, "undone.json");
    const run = await runCli(["run", "--config", await config("undone", {}), "--json", json]);
    expect(run.code).toBe(3);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    expect(report.scenarios[0]?.verdict).toBe("error");
    const message = report.scenarios[0]?.error?.message ?? "";
    expect(message).toContain("users.credits_balance exists after the service started");
    expect(message).toContain("the service migrates itself");
    expect(message).toContain("no users.credits_balance");
    // The service's last words are there: what it did is visible.
    expect(message).toContain("migrations: up to date");
    expect(run.stdout).not.toMatch(/^PASS|^FAIL/m);
  });

  it("catches a schema change made while the scenario ran, at its end", async () => {
    const run = await runCli([
      "run",
      "--config",
      await config("late", { SKIP_MIGRATIONS: "1", LATE_MIGRATION: "1" }),
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toContain(
      "users.credits_balance exists at the end of the scenario",
    );
  });

  it("judges the scenario when the service is told not to migrate (its own setting)", async () => {
    const run = await runCli(["run", "--config", await config("kept", { SKIP_MIGRATIONS: "1" })]);
    expect(run.stdout).toMatch(/^PASS/m);
    expect(run.code).toBe(0);
  });
});

describe('database: { migrate: "service" }', () => {
  it("builds the template by starting the service once on it, then judges the scenario", async () => {
    const file = await config("by-service", {}, '{ migrate: "service" }', "clean");
    const run = await runCli(["run", "--config", file, "--no-template-cache"]);
    expect(run.stdout).toContain(
      "the service migrates itself: the template is built by starting it once",
    );
    expect(run.stdout).toMatch(/^PASS\s+clean/m);
    expect(run.code).toBe(0);
  });

  it("stops the run (exit 3) when the service became ready having created nothing", async () => {
    const file = await config(
      "by-service-broken",
      { BROKEN_MIGRATION: "1" },
      '{ migrate: "service" }',
      "clean",
    );
    const run = await runCli(["run", "--config", file, "--no-template-cache"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      'database.migrate "service": the service became ready on the template but created no table',
    );
    expect(run.stderr).toContain('migration failed: schema "stripe" does not exist');
  });
});
