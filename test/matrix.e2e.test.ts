import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-matrix-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Each schema value seeds its own users; each cell pays for one unknown customer, who is
// created in an emergency. A cell that saw another's database would count the wrong users.
const ISOLATION = `
import { defineScenario, dropColumn, noCascade, sql, webhook } from "faultline";

const users = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ email: \`seeded-\${n}-\${i}@example.com\`, stripe_customer_id: \`cus_Seeded\${n}x\${i}\` }));
const onlyOwnUsers = (n: number) =>
  sql({ name: "only this cell's users", query: "SELECT count(*)::int AS n FROM users", rows: [{ n: n + 1 }] });

export default defineScenario({
  name: "cells-are-isolated",
  matrix: {
    schema: [
      { name: "one user", drift: [], seed: { users: users(1) }, invariants: [onlyOwnUsers(1)] },
      { name: "two users, no balance", drift: [dropColumn("users.credits_balance")], seed: { users: users(2) }, invariants: [onlyOwnUsers(2)] },
      { name: "three users", drift: [], seed: { users: users(3) }, invariants: [onlyOwnUsers(3)] },
    ],
    delivery: ["inOrder", "duplicated"],
  },
  webhooks: [
    webhook("checkout.session.completed", { customer: "cus_NewPayer", email: "new@example.com", credits: "10" }),
  ],
  invariants: [
    noCascade(),
    sql({ name: "one event recorded", query: "SELECT event_id FROM webhook_events", rowCount: 1 }),
  ],
});
`;

interface RunJson {
  seed: number;
  concurrency: number;
  scenarios: {
    cell: Record<string, string>;
    verdict: string;
    database: string;
    seed: number;
    deliveries: { eventId: string; label: string; status: number }[];
    faults: { rule: string }[];
  }[];
}

describe("a scenario matrix", () => {
  it("runs every cell on its own database, in parallel, and reports each cell", async () => {
    const file = path.join(dir, "isolated.scenario.ts");
    await writeFile(file, ISOLATION);
    const json = path.join(dir, "isolated.json");
    const run = await runCli(["run", file, "--concurrency", "3", "--json", json]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("1 scenario(s) (6 cells, 3 at a time)");
    expect(run.stdout).toMatch(
      /PASS {2}cells-are-isolated \[schema: two users, no balance, delivery: duplicated\]/,
    );
    const report = JSON.parse(await readFile(json, "utf8")) as RunJson;
    expect(report.concurrency).toBe(3);
    expect(report.scenarios.map((s) => `${s.cell.schema} / ${s.cell.delivery}`)).toEqual([
      "one user / inOrder",
      "one user / duplicated",
      "two users, no balance / inOrder",
      "two users, no balance / duplicated",
      "three users / inOrder",
      "three users / duplicated",
    ]);
    expect(new Set(report.scenarios.map((s) => s.database)).size).toBe(6);
    // The duplicated cells really sent the event twice.
    expect(report.scenarios[1]?.deliveries).toHaveLength(2);
    expect(report.scenarios[0]?.deliveries).toHaveLength(1);
  });
});

describe("seeds", () => {
  it("a run prints its seed; --seed replays the same payloads, order and faults", async () => {
    // No randomSeed: the run's own seed decides ids, the shuffled order and the 50% fault.
    const source = (
      await readFile(path.join(ROOT, "scenarios/out-of-order-and-duplicates.scenario.ts"), "utf8")
    )
      .replace(/\n\s*randomSeed: \d+,/, "")
      .replace(
        /webhooks: \[/,
        `faults: { rules: [{ name: "flaky", match: { sql: "INSERT INTO credit_grants", probability: 0.5 }, fault: { type: "latency", ms: 1 } }] },\n  webhooks: [`,
      );
    expect(source).not.toContain("randomSeed");
    const file = path.join(dir, "seeded.scenario.ts");
    await writeFile(file, source);
    const first = await runCli(["run", file, "--json", path.join(dir, "a.json")]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const seed = /; seed (\d+)\n/.exec(first.stdout)?.[1];
    expect(seed).toBeDefined();
    const again = await runCli([
      "run",
      file,
      "--seed",
      String(seed),
      "--json",
      path.join(dir, "b.json"),
    ]);
    expect(again.code).toBe(0);
    const other = await runCli([
      "run",
      file,
      "--seed",
      String(Number(seed) + 1),
      "--json",
      path.join(dir, "c.json"),
    ]);
    const [a, b, c] = (await Promise.all(
      ["a", "b", "c"].map(
        async (n) => JSON.parse(await readFile(path.join(dir, `${n}.json`), "utf8")) as RunJson,
      ),
    )) as [RunJson, RunJson, RunJson];
    const shape = (r: RunJson) => ({
      order: r.scenarios[0]?.deliveries.map((d) => `${d.label} ${d.eventId}`),
      faults: r.scenarios[0]?.faults.length,
    });
    expect(a.seed).toBe(Number(seed));
    expect(shape(b)).toEqual(shape(a));
    expect(shape(c).order).not.toEqual(shape(a).order);
    expect(other.code).toBe(0);
  });

  it("a failing run prints a command line that replays it exactly", async () => {
    const run = await runCli([
      "run",
      "scenarios/credits-balance-missing.scenario.ts",
      "--service",
      "payments:broken",
      "--json",
      path.join(dir, "fail.json"),
    ]);
    expect(run.code).toBe(1);
    const line = /replay: (.*)\n/.exec(run.stdout)?.[1] ?? "";
    expect(line).toMatch(
      / run scenarios\/credits-balance-missing\.scenario\.ts --service payments:broken --seed 20261127$/,
    );
    expect(line).not.toContain("--json");
    const replayed = await promisify(execFile)("sh", ["-c", `${line} || echo "exit $?"`], {
      cwd: ROOT,
    });
    expect(replayed.stdout).toContain("exit 1");
    const verdictLine = (text: string) =>
      text
        .split("\n")
        .find((l) => l.startsWith("FAIL"))
        ?.replace(/ {2}\d+\.\d+s /, " ");
    expect(verdictLine(replayed.stdout)).toBe(verdictLine(run.stdout));
  });
});
