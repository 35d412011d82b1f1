import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython } from "../examples/python-billing/python.ts";
import { processesTagged, runCli, startCli } from "./cli.ts";

const SCENARIO = "scenarios/credits-balance-hotfix.scenario.ts";
// Production's schema at the incident: users.credits_balance missing.
const MISSING = ["--cell", "schema=credits_balance missing"];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-load-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 60-s load started in the background, resolved once it has been sending for a second. */
async function loadUnderWay(args: string[], tag: string) {
  const { child, done, untilOutput } = startCli(["load", ...args, "--duration", "60s"], {
    FAULTLINE_TEST_TAG: tag,
  });
  await untilOutput("load: payments:fixed at", 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  return { child, done };
}

describe("faultline load", () => {
  it("holds 50/s for 3 s on payments:fixed with the invariants over every event sent", async () => {
    const json = path.join(dir, "fixed.json");
    const html = path.join(dir, "fixed.html");
    const run = await runCli([
      "load",
      SCENARIO,
      ...MISSING,
      "--html",
      html,
      "--service",
      "payments:fixed",
      "--rate",
      "50/s",
      "--duration",
      "3s",
      "--threshold",
      "errors<1%",
      "--threshold",
      "rate>=45/s",
      "--json",
      json,
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/requested 50\/s, sent [\d.]+\/s, achieved [\d.]+\/s/);
    expect(run.stdout).toMatch(
      /p50 [\d.]+ms {2}p90 [\d.]+ms {2}p99 [\d.]+ms {2}p99\.9 [\d.]+ms {2}max/,
    );
    expect(run.stdout).toContain("statuses   200×150");
    expect(run.stdout).toContain("✓ noLostEvents: 150 acknowledged, 0 of them without effect");
    expect(run.stdout).toContain("✓ exactlyOnceEffect: 150 payment(s) over 150 deliveries");
    expect(run.stdout).toContain("✓ threshold errors<1%: 0%");
    const result = JSON.parse(await readFile(json, "utf8"));
    expect(result.load.sent).toBe(150);
    expect(result.load.acked).toBe(150);
    // The scenario's own session-wide invariants, plus the payments preset's effect ones.
    expect(result.invariants.map((i: { name: string; passed: boolean }) => i.name)).toEqual([
      "noCascade",
      "noAbortedIdleConnections",
      "rollsBackAfterError",
      "noLostEvents",
      "exactlyOnceEffect",
    ]);
    expect(result.invariants.every((i: { passed: boolean }) => i.passed)).toBe(true);
    // Invariants about the scenario's particular events are said not to apply, not passed.
    expect(result.notJudgedUnderLoad).toEqual(
      expect.arrayContaining(["userResolved(known@example.com)", "idempotent"]),
    );
    expect(run.stdout).toMatch(/not judged under load .*userResolved\(known@example\.com\)/);
    // Every request was a distinct event: ids and emails made unique per request.
    expect(result.seconds.reduce((n: number, s: { sent: number }) => n + s.sent, 0)).toBe(150);
    expect(result.exitCode).toBe(0);
    const page = await readFile(html, "utf8");
    expect(page).toContain("credits-balance-hotfix");
    // The load panel, with this run's figures, comes from the CLI's own --html.
    expect(page).toContain("load-panel");
    expect(page).toMatch(/"requestedRate":50\b/);
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });

  it("fails on payments:broken with the 42703 → 25P02 cascade counted", async () => {
    const run = await runCli([
      "load",
      SCENARIO,
      ...MISSING,
      "--service",
      "payments:broken",
      "--rate",
      "50/s",
      "--duration",
      "2s",
      "--threshold",
      "errors<0.1%",
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/sqlstates {2}.*42703×\d+/);
    expect(run.stdout).toMatch(/25P02×\d+/);
    expect(run.stdout).toContain("✗ noCascade");
    expect(run.stdout).toContain("✗ threshold errors<0.1%: 100%");
  });

  it("keeps a rules file's faults on through the load, and judges what they did", async () => {
    const rules = path.join(dir, "conflicts.json");
    await writeFile(
      rules,
      JSON.stringify({
        seed: 3,
        rules: [
          {
            name: "credit-conflict",
            match: { sql: "UPDATE users SET credits_balance", probability: 0.2 },
            fault: { type: "preset", name: "serialization_failure" },
          },
        ],
      }),
    );
    const json = path.join(dir, "faults.json");
    const run = await runCli([
      "load",
      SCENARIO,
      "--cell",
      "schema=credits_balance present",
      "--service",
      "payments:fixed",
      "--rate",
      "40/s",
      "--duration",
      "2s",
      "--faults",
      rules,
      "--json",
      json,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = JSON.parse(await readFile(json, "utf8"));
    // Every fault the proxy fired is a 40001 the service saw and answered with a 500 (the
    // provider retries those); what it acknowledged has its effect, exactly once.
    expect(result.faultsFired).toBeGreaterThan(0);
    expect(result.sqlstates["40001"]).toBe(result.faultsFired);
    expect(result.load.byStatus["500"]).toBe(result.faultsFired);
    expect(result.load.acked).toBe(80 - result.faultsFired);
    expect(result.invariants.every((i: { passed: boolean }) => i.passed)).toBe(true);
    expect(run.stdout).toMatch(
      /✓ noLostEvents: \d+ acknowledged, 0 of them without effect; \d+ never/,
    );

    // --faults none: the same load with the proxy passing everything through.
    const clean = await runCli([
      "load",
      SCENARIO,
      "--cell",
      "schema=credits_balance present",
      "--rate",
      "40/s",
      "--duration",
      "1s",
      "--faults",
      "none",
    ]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/sqlstates {2}none over \d+ statements; 0 fault\(s\) fired/);
  });

  it("loads any service a faultline.config.ts describes: the Python example, fixed and broken", async () => {
    const cwd = path.resolve("examples/python-billing");
    const env = { PYTHON: findPython() };
    const scenario = "faultline/tax-column-missing.scenario.ts";
    const fixed = await runCli(["load", scenario, "--rate", "20/s", "--duration", "2s"], env, cwd);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    // Its own effect invariants, on its own schema, over every event sent.
    expect(fixed.stdout).toMatch(/✓ noLostEvents: 40 acknowledged, 0 of them without effect/);
    expect(fixed.stdout).toMatch(/✓ effectOnce: 40 event\(s\) over 40 deliveries, one row each/);
    expect(fixed.stdout).not.toMatch(/exactlyOnceEffect/);

    const broken = await runCli(
      [
        "load",
        scenario,
        "--service",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, not JavaScript
        'BILLING_VARIANT=broken exec "${PYTHON:-python3}" app.py',
        "--rate",
        "20/s",
        "--duration",
        "2s",
      ],
      env,
      cwd,
    );
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/sqlstates {2}.*42703×1 25P02×\d+/);
    expect(broken.stdout).toContain("✗ noCascade");
    expect(broken.stdout).toContain("✗ noAbortedIdleConnections");
  });

  it.each([
    [["--rate", "fast", "--duration", "3s"], /--rate: expected <n>\/s, <n>\/m or <n>/],
    [["--rate", "50/s", "--duration", "forever"], /--duration: expected .*60s, 1m30s/],
    [["--rate", "50/s", "--duration", "3s", "--ramp", "x"], /--ramp: expected/],
    [["--rate", "50/s", "--duration", "3s", "--ramp", "5s"], /--ramp: 5s is longer/],
    [["--rate", "50/s", "--duration", "3s", "--threshold", "p99<300"], /'p99<300ms'/],
    [["--duration", "3s"], /--rate: required/],
  ])("bad flags %j → exit 2 with the accepted forms", async (flags, message) => {
    const run = await runCli(["load", SCENARIO, ...MISSING, ...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("asks which cell of a matrix scenario to load, listing them (exit 2)", async () => {
    const run = await runCli(["load", SCENARIO, "--rate", "5/s", "--duration", "1s"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/has 2 matrix cells; a load runs one, pick it with --cell/);
    expect(run.stderr).toContain("--cell 'schema=credits_balance missing'");
    expect(run.stderr).toContain("--cell 'schema=credits_balance present'");
  });

  it("ends within 5 s with partial results when the service dies mid-run (exit 3)", async () => {
    const tag = `load-kill-${process.pid}-${Date.now()}`;
    const partial = path.join(dir, "partial.json");
    const { done } = await loadUnderWay(
      [SCENARIO, ...MISSING, "--service", "payments:fixed", "--rate", "50/s", "--json", partial],
      tag,
    );
    // The bundled service runs as `node …/service.mjs`: that process, nothing else of the run.
    const service = processesTagged("FAULTLINE_TEST_TAG", tag).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("service.mjs"),
    );
    expect(service.length).toBe(1);
    process.kill(service[0] as number, "SIGKILL");
    const killedAt = Date.now();
    const run = await done;
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(
      /the service was killed by SIGKILL during the load; results above are partial/,
    );
    expect(run.stdout).toMatch(/sent \d+/);
    // The partial results are written too, with the failure in them.
    const result = JSON.parse(await readFile(partial, "utf8"));
    expect(result.exitCode).toBe(3);
    expect(result.targetFailure.message).toMatch(/killed by SIGKILL/);
    expect(result.load.sent).toBeGreaterThan(0);
    expect(result.load.sent).toBeLessThan(3000);
  });

  it("SIGTERM mid-run ends as interrupted (143), partial results written, nothing left running", async () => {
    const tag = `load-term-${process.pid}-${Date.now()}`;
    const partial = path.join(dir, "interrupted.json");
    const { child, done } = await loadUnderWay(
      ["scenarios/credits-balance-missing.scenario.ts", "--rate", "20/s", "--json", partial],
      tag,
    );
    child.kill("SIGTERM");
    const run = await done;
    // A CI runner that stopped the run must not read a verdict from it.
    expect(run.code).toBe(143);
    expect(run.stdout).toMatch(/load credits-balance-missing: ERROR/);
    expect(run.stdout).toContain("interrupted: results above are partial");
    const result = JSON.parse(await readFile(partial, "utf8"));
    expect(result.interrupted).toBe(true);
    expect(result.verdict).toBe("error");
    expect(result.load.sent).toBeGreaterThan(0);
    expect(processesTagged("FAULTLINE_TEST_TAG", tag)).toEqual([]);
  });
});
