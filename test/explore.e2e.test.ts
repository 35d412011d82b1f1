import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

// faultline explore against the payments example: the scenario with the full schema passes
// clean on both services; the faults explore injects find the broken one's swallowed error.
const PRESENT = path.join(ROOT, "scenarios", "credits-balance-present.scenario.ts");

interface Report {
  candidates: { fault: { kind: string; target: string }; outcome: string; file?: string }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-explore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("faultline explore", () => {
  it("finds the cascade at the credits_balance SELECT of payments:broken and writes a scenario that fails there and passes on the fix", async () => {
    const out = path.join(dir, "broken");
    const json = path.join(dir, "broken.json");
    const run = await runCli([
      "explore",
      PRESENT,
      "--service",
      "payments:broken",
      "--faults",
      "undefined-column",
      "--out",
      out,
      "--json",
      json,
      "--quiet",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^HARMFUL {2}undefined-column at SELECT id, email, credits_balance FROM users WHERE stripe_customer_id = \$1 {2}→ noCascade: /m,
    );
    expect(run.stdout).toMatch(/^explored \d+ of \d+ candidate\(s\) over \d+ statement site\(s\)/m);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    const found = report.candidates.find(
      (c) =>
        c.outcome === "harmful" && c.fault.target.startsWith("SELECT id, email, credits_balance"),
    );
    expect(found?.file).toBeDefined();
    const file = found?.file as string;
    const text = await readFile(file, "utf8");
    expect(text).toContain("Found by `faultline explore`: undefined-column at");
    // Shrunk: the first payment alone shows it.
    expect(text).toContain("1 of its 4 webhooks kept (shrunk)");
    expect((await runCli(["run", file, "--service", "payments:broken", "--quiet"])).code).toBe(1);
    const fixed = await runCli(["run", file, "--service", "payments:fixed", "--quiet"]);
    expect(fixed.stdout).toMatch(/^PASS /m);
    expect(fixed.code).toBe(0);
  });

  it("reports nothing harmful against payments:fixed, and gives the same candidates and outcomes twice", async () => {
    const outcomes: string[] = [];
    for (const round of [1, 2]) {
      const json = path.join(dir, `fixed-${round}.json`);
      const run = await runCli([
        "explore",
        PRESENT,
        "--service",
        "payments:fixed",
        "--faults",
        "undefined-column,drop-column,serialization-failure",
        "--out",
        path.join(dir, `fixed-${round}`),
        "--json",
        json,
        "--quiet",
      ]);
      expect(run.stdout).toMatch(/ 0 harmful/);
      expect(run.code).toBe(0);
      const report = JSON.parse(await readFile(json, "utf8")) as Report;
      expect(report.candidates.length).toBeGreaterThan(10);
      outcomes.push(
        JSON.stringify(report.candidates.map((c) => [c.fault.kind, c.fault.target, c.outcome])),
      );
    }
    expect(outcomes[1]).toBe(outcomes[0]);
  });

  it("reports nothing harmful against payments:fixed under the incident's own drift: a faulted webhook is not a later one the drift stopped", async () => {
    // credits-balance-missing drops users.credits_balance, so every payment raises a 42703 the
    // fix handles; a fault then failing one webhook must be failed safe, not processingContinues.
    const json = path.join(dir, "fixed-missing.json");
    const run = await runCli([
      "explore",
      path.join(ROOT, "scenarios", "credits-balance-missing.scenario.ts"),
      "--service",
      "payments:fixed",
      "--faults",
      "undefined-column,connection-cut,unique-violation",
      "--out",
      path.join(dir, "fixed-missing"),
      "--json",
      json,
      "--quiet",
    ]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/ 0 harmful/);
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    // The emergency INSERT of the unknown customer, faulted: refused, and the provider retries.
    const emergency = report.candidates.filter((c) =>
      c.fault.target.startsWith("INSERT INTO users"),
    );
    expect(emergency.length).toBeGreaterThan(0);
    expect(emergency.every((c) => c.outcome === "failed safe")).toBe(true);
  });

  it("never overwrites a finding: a second explore writes beside the first", async () => {
    const out = path.join(dir, "twice");
    const args = [
      "explore",
      PRESENT,
      "--service",
      "payments:broken",
      "--faults",
      "drop-column",
      "--max-runs",
      "1",
      "--out",
      out,
      "--quiet",
    ];
    expect((await runCli(args)).code).toBe(1);
    const first = await readdir(out);
    expect((await runCli(args)).code).toBe(1);
    const second = await readdir(out);
    expect(second.length).toBe(first.length * 2);
    expect(second.filter((f) => f.endsWith("-2.scenario.ts")).length).toBe(first.length);
  });

  it("refuses bad input with exit 2 and says what it expected, and a scenario that fails clean with exit 1", async () => {
    const kinds = await runCli(["explore", PRESENT, "--faults", "undefined-column,nosuch"]);
    expect(kinds.code).toBe(2);
    expect(kinds.stderr).toContain(
      '--faults: unknown kind(s) "nosuch"; the kinds are: undefined-column, undefined-table',
    );
    const budget = await runCli(["explore", PRESENT, "--budget", "5 minutes"]);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain("--budget: expected a time like 90s, 5m, 1h or 1500ms");
    const nothing = await runCli([
      "explore",
      PRESENT,
      "--budget",
      "1ms",
      "--out",
      path.join(dir, "never"),
    ]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("left no time for any of the");
    const depth = await runCli(["explore", PRESENT, "--depth", "3"]);
    expect(depth.code).toBe(2);
    expect(depth.stderr).toContain("--depth: expected 1 (one fault per candidate) or 2");
    const missing = path.join(ROOT, "scenarios", "credits-balance-missing.scenario.ts");
    const clean = await runCli([
      "explore",
      missing,
      "--service",
      "payments:broken",
      "--out",
      path.join(dir, "never"),
    ]);
    expect(clean.code).toBe(1);
    expect(clean.stdout).toContain("credits-balance-missing: fails clean");
    expect(clean.stdout).toContain("nothing explored");
    const empty = path.join(dir, "empty");
    await writeFile(path.join(dir, "x.txt"), "");
    const none = await runCli(["explore", path.join(empty, "*.scenario.ts")]);
    expect(none.code).toBe(2);
  });

  it("shrinks a finding reached with 6 webhooks and 2 fault rules to the 1 webhook and 1 rule it needs", async () => {
    const scenarioDir = path.join(dir, "six");
    await mkdir(scenarioDir, { recursive: true });
    const file = path.join(scenarioDir, "six-payments.scenario.ts");
    const payments = [1, 2, 3, 4, 5, 6]
      .map(
        (n) =>
          `webhook("checkout.session.completed", { customer: "cus_KnownCustomer01", email: "known@example.com", credits: "${n}00", amount_total: ${n}00 }, "payment-${n}")`,
      )
      .join(",\n    ");
    await writeFile(
      file,
      `import { defineScenario, noCascade, processingContinues, webhook } from "faultline";
export default defineScenario({
  name: "six-payments",
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01", credits_balance: 0 }] },
  webhooks: [
    ${payments},
  ],
  // A slow BEGIN everywhere: harmless, and not needed by anything explore finds.
  faults: { seed: 1, rules: [{ name: "slow-begin", match: { kind: "BEGIN" }, fault: { type: "latency", ms: 2 } }] },
  invariants: [noCascade(), processingContinues()],
});
`,
    );
    const out = path.join(dir, "six-found");
    const json = path.join(dir, "six.json");
    const run = await runCli([
      "explore",
      file,
      "--service",
      "payments:broken",
      "--faults",
      "undefined-column",
      "--out",
      out,
      "--json",
      json,
      "--quiet",
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(await readFile(json, "utf8")) as {
      candidates: (Report["candidates"][number] & {
        webhooks?: { kept: number; of: number };
        rules?: { kept: number; of: number };
      })[];
    };
    const found = report.candidates.find(
      (c) => c.file && c.fault.target.startsWith("SELECT id, email, credits_balance"),
    );
    expect(found?.webhooks).toEqual({ kept: 1, of: 6 });
    expect(found?.rules).toEqual({ kept: 1, of: 2 });
    const text = await readFile(found?.file as string, "utf8");
    expect(text).toContain("1 of its 6 webhooks kept (shrunk); 1 of 2 fault rules kept");
    expect(text).not.toContain("slow-begin");
    expect(
      (await runCli(["run", found?.file as string, "--service", "payments:broken", "--quiet"]))
        .code,
    ).toBe(1);
    expect(
      (await runCli(["run", found?.file as string, "--service", "payments:fixed", "--quiet"])).code,
    ).toBe(0);
  });

  it("at depth 2 follows a refused first fault with the provider's retry and faults the error path only it reached", async () => {
    const json = path.join(dir, "depth2.json");
    const run = await runCli([
      "explore",
      PRESENT,
      "--service",
      "payments:fixed",
      "--faults",
      "undefined-column,drop-column,reply-lost,statement-timeout",
      "--depth",
      "2",
      "--out",
      path.join(dir, "depth2"),
      "--json",
      json,
      "--quiet",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(json, "utf8")) as {
      candidates: (Report["candidates"][number] & { depth?: number })[];
    };
    const first = report.candidates.filter((c) => c.depth === undefined);
    const second = report.candidates.filter((c) => c.depth === 2);
    // The COMMIT whose reply was lost, retried as the provider would: the fix stays exactly-once.
    expect(second.find((c) => c.fault.kind === "reply-lost+retry")?.outcome).toBe("survived");
    // A 42703 the fix refused is delivered again and goes through: failed safe was safe.
    const retried = second.filter((c) => c.fault.kind === "undefined-column+retry");
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.every((c) => c.outcome === "survived")).toBe(true);
    // The fix's schema check runs only after an error: never a first fault, but a second one —
    // a timeout there, never a 42703: information_schema does not drift.
    const errorPath = (c: { fault: { target: string } }) =>
      /information_schema\.columns/.test(c.fault.target);
    expect(first.some(errorPath)).toBe(false);
    expect(second.some((c) => errorPath(c) && c.fault.kind.endsWith("+statement-timeout"))).toBe(
      true,
    );
    expect(second.some((c) => errorPath(c) && c.fault.kind.endsWith("+undefined-column"))).toBe(
      false,
    );
    expect(second.every((c) => c.outcome !== "harmful")).toBe(true);
  });
});
