import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";
import { checkoutSessionEvent } from "./stripe-events.ts";

// faultline incident from the logs an engineer has, to a scenario that fails while the bug is there.
const SEED = path.join(ROOT, "..", "shared", "seeds", "000_f60d032573dc4dc4.txt");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-incident-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function written(out: string): Promise<string[]> {
  return (await readdir(out)).filter((f) => f.endsWith(".scenario.ts")).sort();
}

describe("faultline incident", () => {
  it("rebuilds the seed's incident from its BEFORE lines: the scenario fails on payments:broken and passes on payments:fixed", async () => {
    const seed = await readFile(SEED, "utf8");
    // The lines the seed quotes from production under "BEFORE (broken):", as they were logged.
    const before = seed.slice(seed.indexOf("BEFORE (broken)"));
    const lines = before
      .split("\n")
      .slice(1)
      .filter((l) => l.startsWith("[ERROR]"));
    expect(lines.length).toBe(3);
    const log = path.join(dir, "seed-before.log");
    await writeFile(log, `${lines.join("\n")}\n`);
    const out = path.join(dir, "seed", "incident.scenario.ts");
    const run = await runCli(["incident", log, "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^INCIDENT 42703 users\.credits_balance$/m);
    expect(run.stdout).toContain("(25P02) × 1: 1 cascade(s)");
    expect(run.stdout).toMatch(/inferred: .*SQLSTATE 42703 from the message's words/);
    const text = await readFile(out, "utf8");
    expect(text).toContain('"dropColumn": "users.credits_balance"');
    expect(text).toContain(`Read from: ${log}:1, ${log}:2`);
    const broken = await runCli(["run", out, "--service", "payments:broken", "--quiet"]);
    expect(broken.stdout).toMatch(/violated: .*noCascade/);
    expect(broken.code).toBe(1);
    const fixed = await runCli(["run", out, "--service", "payments:fixed", "--quiet"]);
    expect(fixed.stdout).toMatch(/^PASS /m);
    expect(fixed.code).toBe(0);
  });

  const TWO_INCIDENTS = [
    "2026-11-27 14:00:00.000 UTC [70] LOG:  checkpoint starting: time",
    "2026-11-27 14:02:11.000 UTC [4242] ERROR:  column u.credits_balance does not exist at character 15",
    "2026-11-27 14:02:11.000 UTC [4242] STATEMENT:  SELECT u.id, u.credits_balance FROM users u WHERE u.stripe_customer_id = $1",
    "2026-11-27 14:02:11.010 UTC [4242] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
    "2026-11-27 14:02:11.010 UTC [4242] STATEMENT:  SELECT id FROM users WHERE email = $1",
    '2026-11-27 14:02:12.000 UTC [91] LOG:  automatic vacuum of table "payments.public.users": index scans: 0',
    "2026-11-27 14:02:13.000 UTC [4250] LOG:  connection authorized: user=app database=payments",
    '2026-11-27 20:15:00.000 UTC [5100] ERROR:  relation "credit_grants" does not exist at character 13',
    "2026-11-27 20:15:00.000 UTC [5100] STATEMENT:  INSERT INTO credit_grants (event_id, user_id, credits, amount_cents, applied) VALUES ($1, $2, $3, $4, $5)",
    "2026-11-27 20:15:00.005 UTC [5100] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
    "2026-11-27 20:15:00.005 UTC [5100] STATEMENT:  UPDATE users SET credits_balance = credits_balance + $1 WHERE id = $2",
  ];

  it("writes two scenarios for two unrelated incidents among the noise, one with --since, one with both with --combine", async () => {
    const log = path.join(dir, "two.log");
    await writeFile(log, `${TWO_INCIDENTS.join("\n")}\n`);
    const out = path.join(dir, "two");
    const both = await runCli(["incident", log, "--out", path.join(out, "incident.scenario.ts")]);
    expect(both.code).toBe(0);
    expect(both.stdout).toMatch(/^INCIDENT 42703 users\.credits_balance$/m);
    expect(both.stdout).toMatch(/^INCIDENT 42P01 credit_grants$/m);
    expect(await written(out)).toEqual(["incident-2.scenario.ts", "incident.scenario.ts"]);
    const first = await readFile(path.join(out, "incident.scenario.ts"), "utf8");
    expect(first).toContain('"dropColumn": "users.credits_balance"');
    expect(first).toContain("alias");
    expect(await readFile(path.join(out, "incident-2.scenario.ts"), "utf8")).toContain(
      '"dropTable": "credit_grants"',
    );
    const late = path.join(dir, "late");
    const since = await runCli([
      "incident",
      log,
      "--since",
      "2026-11-27T20:00:00Z",
      "--out",
      path.join(late, "incident.scenario.ts"),
    ]);
    expect(since.code).toBe(0);
    expect(since.stdout).not.toContain("credits_balance does not exist");
    expect(await written(late)).toEqual(["incident.scenario.ts"]);
    const combined = path.join(dir, "combined");
    const one = await runCli([
      "incident",
      log,
      "--combine",
      "--out",
      path.join(combined, "incident.scenario.ts"),
    ]);
    expect(one.code).toBe(0);
    expect(await written(combined)).toEqual(["incident.scenario.ts"]);
    const text = await readFile(path.join(combined, "incident.scenario.ts"), "utf8");
    expect(text).toContain('"dropColumn": "users.credits_balance"');
    expect(text).toContain('"dropTable": "credit_grants"');
    // Never overwritten: a second run writes beside it.
    await runCli([
      "incident",
      log,
      "--combine",
      "--out",
      path.join(combined, "incident.scenario.ts"),
    ]);
    expect(await written(combined)).toEqual(["incident-2.scenario.ts", "incident.scenario.ts"]);
  });

  it("matches the events the application logged to imported payloads, by id, in the order seen", async () => {
    const base = path.join(dir, "recorded");
    const events = path.join(dir, "events.json");
    await writeFile(
      events,
      JSON.stringify({
        object: "list",
        data: [
          checkoutSessionEvent("evt_inc_0002", 200),
          checkoutSessionEvent("evt_inc_0001", 100),
        ],
      }),
    );
    const fixtures = path.join(base, "fixtures");
    expect((await runCli(["import", "stripe-events", events, "--out", fixtures])).code).toBe(0);
    const log = path.join(dir, "payments-app.log");
    await writeFile(
      log,
      [
        "2026-11-27 14:02:11,000 INFO received checkout.session.completed evt_inc_0002",
        "2026-11-27 14:02:11,010 ERROR column users.credits_balance does not exist",
        "2026-11-27 14:02:11,020 ERROR payment evt_inc_0002 failed: current transaction is aborted, commands ignored until end of transaction block",
        "2026-11-27 14:02:12,000 INFO received checkout.session.completed evt_inc_0001",
        "2026-11-27 14:02:12,010 ERROR column users.credits_balance does not exist",
        "2026-11-27 14:02:12,020 ERROR payment evt_inc_0001 failed: current transaction is aborted, commands ignored until end of transaction block",
      ].join("\n"),
    );
    const out = path.join(base, "incident.scenario.ts");
    const run = await runCli(["incident", log, "--fixtures", fixtures, "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "2 time(s) in 1 session(s), 2026-11-27T14:02:11.010Z to 2026-11-27T14:02:12.020Z",
    );
    expect(run.stdout).toContain("(25P02) × 2: 2 cascade(s)");
    const text = await readFile(out, "utf8");
    const recorded = [...text.matchAll(/"recorded": "([^"]+)"/g)].map((m) => m[1] as string);
    expect(recorded).toHaveLength(2);
    // In the order the log saw them: evt_inc_0002 first, though it was imported second.
    const ids = await Promise.all(
      recorded.map(
        async (r) => JSON.parse(await readFile(path.join(base, `${r}.json`), "utf8")).eventId,
      ),
    );
    expect(ids).toEqual(["evt_inc_0002", "evt_inc_0001"]);
    expect((await runCli(["run", out, "--service", "payments:broken", "--quiet"])).code).toBe(1);
    expect((await runCli(["run", out, "--service", "payments:fixed", "--quiet"])).code).toBe(0);
  });

  it("turns an error drift cannot explain into a proxy fault at the logged statement", async () => {
    const log = path.join(dir, "timeout.log");
    await writeFile(
      log,
      [
        "2026-11-27 14:02:11.000 UTC [4242] ERROR:  canceling statement due to statement timeout",
        "2026-11-27 14:02:11.000 UTC [4242] STATEMENT:  SELECT id, email, credits_balance FROM users WHERE stripe_customer_id = $1",
        "2026-11-27 14:02:11.010 UTC [4242] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
        "2026-11-27 14:02:11.010 UTC [4242] STATEMENT:  SELECT id FROM users WHERE email = $1",
      ].join("\n"),
    );
    const out = path.join(dir, "timeout", "incident.scenario.ts");
    const run = await runCli(["incident", log, "--out", out]);
    expect(run.code).toBe(0);
    const text = await readFile(out, "utf8");
    expect(text).toContain('"sqlstate": "57014"');
    expect(text).toContain('"drift": []');
    expect((await runCli(["run", out, "--service", "payments:broken", "--quiet"])).code).toBe(1);
    expect((await runCli(["run", out, "--service", "payments:fixed", "--quiet"])).code).toBe(0);
  });

  it("reads only one database's errors with --database", async () => {
    const log = path.join(dir, "databases.log");
    await writeFile(
      log,
      [
        "2026-11-27 14:02:11.000 UTC [4242] app@payments ERROR:  column users.credits_balance does not exist",
        "2026-11-27 14:02:11.010 UTC [4242] app@payments ERROR:  current transaction is aborted, commands ignored until end of transaction block",
        '2026-11-27 14:03:00.000 UTC [5000] app@analytics ERROR:  relation "credit_grants" does not exist',
      ].join("\n"),
    );
    const out = path.join(dir, "databases");
    const run = await runCli([
      "incident",
      log,
      "--database",
      "analytics",
      "--out",
      path.join(out, "incident.scenario.ts"),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^INCIDENT 42P01 credit_grants$/m);
    expect(run.stdout).not.toContain("credits_balance");
    expect(await written(out)).toEqual(["incident.scenario.ts"]);
  });

  it("still writes the scenario for a column the migrations do not have, saying so", async () => {
    const log = path.join(dir, "unknown.log");
    await writeFile(
      log,
      '2026-11-27 14:02:11.000 UTC [4242] ERROR:  column "loyalty_tier" does not exist at character 8\n',
    );
    const out = path.join(dir, "unknown", "incident.scenario.ts");
    const run = await runCli(["incident", log, "--out", out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("loyalty_tier is unknown to the migrations");
    const text = await readFile(out, "utf8");
    expect(text).toContain("The column loyalty_tier is unknown to the migrations");
    expect(text).toContain('"drift": []');
  });

  it("refuses what it cannot reproduce with exit 2: no file, a missing file, no error, an unknown format, a bad time", async () => {
    expect((await runCli(["incident"])).stderr).toContain("no log file given");
    const missing = await runCli(["incident", path.join(dir, "nope.log")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.log: cannot read the log");
    const quiet = path.join(dir, "quiet.log");
    await writeFile(quiet, `${TWO_INCIDENTS[0]}\n${TWO_INCIDENTS[5]}\n`);
    const none = await runCli(["incident", quiet]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no database error in");
    expect(none.stderr).toContain("nothing to reproduce");
    const prose = path.join(dir, "prose.txt");
    await writeFile(prose, "we deployed at noon\nthen it broke\n");
    const unknown = await runCli(["incident", prose]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Tried: jsonlog, csvlog, stderr with the prefixes");
    expect(unknown.stderr).toContain("--log-line-prefix");
    const badTime = await runCli(["incident", quiet, "--since", "yesterday"]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain("--since: expected a time like");
    const onlyAborted = path.join(dir, "aborted.log");
    await writeFile(onlyAborted, `${TWO_INCIDENTS[3]}\n`);
    const orphan = await runCli(["incident", onlyAborted]);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain("but not the error that aborted the transaction");
  });
});
