import { describe, expect, it } from "vitest";
import type { TraceEntry } from "../proxy/index.ts";
import { rawSqlPattern } from "../proxy/index.ts";
import type { Scenario, ScenarioResult } from "../scenario/index.ts";
import { candidatesFor, classify, columnsOnPath, statementSites } from "./explore.ts";
import { FAULT_KINDS } from "./kinds.ts";

function entry(sql: string, kind: string, tx: TraceEntry["tx"]): TraceEntry {
  return {
    conn: 1,
    at: "2026-12-03T00:00:00.000Z",
    sql,
    kind,
    durationMs: 1,
    result: { tag: kind, rows: 0 },
    tx,
    database: "fl",
    applicationName: "svc",
  } as TraceEntry;
}

const TRACE = [
  entry("BEGIN", "BEGIN", "T"),
  entry("SELECT id, credits_balance FROM users WHERE email = $1", "SELECT", "T"),
  entry("INSERT INTO credit_grants (user_id, credits) VALUES ($1, ?)", "INSERT", "T"),
  entry("COMMIT", "COMMIT", "I"),
  entry("SELECT id, credits_balance FROM users WHERE email = $1", "SELECT", "I"),
  entry("SELECT id, credits_balance FROM users WHERE email = $1", "SELECT", "T"),
];

describe("explore's fault points", () => {
  it("takes each statement once per occurrence, with whether it ran in a transaction", () => {
    const sites = statementSites(TRACE);
    expect(sites.map((s) => [s.kind, s.occurrence, s.inTransaction])).toEqual([
      ["BEGIN", 1, false],
      ["SELECT", 1, true],
      ["INSERT", 1, true],
      ["COMMIT", 1, true],
      ["SELECT", 2, false],
      ["SELECT", 3, true],
    ]);
  });

  it("matches the raw SQL a normalised text stands for, literals and spacing included", () => {
    const re = new RegExp(
      rawSqlPattern("INSERT INTO credit_grants (user_id, credits) VALUES ($1, ?)"),
    );
    expect(re.test("INSERT INTO credit_grants (user_id, credits)\n   VALUES ($1, 500)")).toBe(true);
    expect(re.test("INSERT INTO credit_grants (user_id, credits) VALUES ($1, 'a''b');")).toBe(true);
    expect(
      re.test("INSERT INTO credit_grants (user_id, credits) VALUES ($1, 5) RETURNING id"),
    ).toBe(false);
    expect(re.test("INSERT INTO other (user_id, credits) VALUES ($1, 5)")).toBe(false);
  });

  it("finds the columns of the path's tables that its statements name, schema-qualified", () => {
    const shape = new Map([
      [
        "users",
        new Map([
          ["id", "integer"],
          ["email", "text"],
          ["credits_balance", "integer"],
          ["name", "text"],
        ]),
      ],
      [
        "credit_grants",
        new Map([
          ["user_id", "integer"],
          ["credits", "integer"],
        ]),
      ],
      ["stripe.invoices", new Map([["id", "text"]])],
    ]);
    expect(columnsOnPath(statementSites(TRACE), shape)).toEqual([
      "users.id",
      "users.email",
      "users.credits_balance",
      "credit_grants.user_id",
      "credit_grants.credits",
    ]);
  });

  it("tries the incident first, then statements in transactions and writes; one per statement, kind and state", () => {
    const sites = statementSites(TRACE);
    const { faults, pruned } = candidatesFor(sites, ["users.credits_balance"], FAULT_KINDS);
    expect(faults[0]).toMatchObject({ kind: "drop-column", target: "users.credits_balance" });
    expect(faults[1]).toMatchObject({ kind: "rename-column", target: "users.credits_balance" });
    // Then the COMMIT (its reply lost: did it happen?) and the write in the transaction.
    expect(faults.slice(2, 4).map((f) => f.target)).toEqual(["COMMIT", "COMMIT"]);
    expect(faults[4]?.target).toContain("INSERT INTO credit_grants");
    // The SELECT's third occurrence runs in a transaction like its first: pruned; its second,
    // outside one, is tried.
    const selects = faults.filter(
      (f) => f.kind === "undefined-column" && f.target.startsWith("SELECT"),
    );
    expect(selects.map((f) => f.target)).toEqual([
      "SELECT id, credits_balance FROM users WHERE email = $1",
      "SELECT id, credits_balance FROM users WHERE email = $1 (occurrence 2)",
    ]);
    expect(pruned[0]?.count).toBeGreaterThan(0);
    // 23505 only on an INSERT; nothing at BEGIN or COMMIT (a raised COMMIT would not end the
    // transaction as a failed COMMIT does).
    expect(
      faults
        .filter((f) => f.kind === "unique-violation")
        .every((f) => f.target.startsWith("INSERT")),
    ).toBe(true);
    const sqlErrors = faults.filter((f) => f.rules[0]?.fault.type === "sqlError");
    expect(sqlErrors.some((f) => f.target === "COMMIT")).toBe(false);
    expect(faults.some((f) => f.target === "BEGIN")).toBe(false);
    // A COMMIT is faithfully cut before it or loses its reply after it ran.
    expect(faults.filter((f) => f.target === "COMMIT").map((f) => f.kind)).toEqual([
      "connection-cut",
      "reply-lost",
    ]);
    // The server ends the session only where a transaction is open.
    for (const f of faults.filter((f) => f.kind === "terminate-backend"))
      expect(sites.find((s) => f.target.startsWith(s.sql))?.inTransaction).toBe(true);
  });

  it("varies the delivery: each webhook twice, each adjacent pair swapped, consecutive ones at once", () => {
    const webhooks = [
      { fixture: "checkout.session.completed", as: "first" },
      { fixture: "invoice.paid" },
      { redeliver: "first" },
      { fixture: "customer.updated" },
    ] as unknown as Scenario["webhooks"];
    const { faults } = candidatesFor([], [], FAULT_KINDS, { webhooks, tables: ["users"] });
    const by = (kind: string) => faults.filter((f) => f.kind === kind);
    expect(by("drop-table").map((f) => f.drift)).toEqual([[{ dropTable: "users" }]]);
    const duplicates = by("duplicate-delivery");
    // The redelivery is no new webhook: three are duplicated, each judged idempotent as harm.
    expect(duplicates.map((f) => f.target)).toEqual([
      "webhook 1 (first)",
      "webhook 2 (invoice.paid)",
      "webhook 4 (customer.updated)",
    ]);
    expect(duplicates[1]?.webhooks?.slice(1, 3)).toEqual([
      { fixture: "invoice.paid", as: "explore-duplicate-2" },
      { redeliver: "explore-duplicate-2" },
    ]);
    expect(duplicates.every((f) => f.harms?.includes("idempotent"))).toBe(true);
    // Only the first pair is two new webhooks side by side.
    expect(by("reorder").map((f) => f.webhooks?.slice(0, 2))).toEqual([[webhooks[1], webhooks[0]]]);
    expect(by("concurrent-batch")[0]?.webhooks?.[0]).toEqual({
      batch: [webhooks[0], webhooks[1]],
      order: "concurrent",
    });
    expect(by("connection-refused")).toHaveLength(1);
  });

  it("does not duplicate a delivery signed wrong on purpose: it is refused both times", () => {
    const webhooks = [
      { fixture: "invoice.paid", signature: "stale" },
      { fixture: "invoice.paid" },
    ] as unknown as Scenario["webhooks"];
    const { faults } = candidatesFor([], [], FAULT_KINDS, { webhooks });
    expect(faults.filter((f) => f.kind === "duplicate-delivery").map((f) => f.target)).toEqual([
      "webhook 2 (invoice.paid)",
    ]);
  });

  it("tries no 42703 or 42P01 at a driver's catalog query, only at statements naming the schema's tables", () => {
    const sites = statementSites([
      entry(
        "select b.oid, b.typarray from pg_catalog.pg_type a where a.typcategory = ?",
        "SELECT",
        "I",
      ),
      entry("SELECT id FROM billing.accounts WHERE email = $1", "SELECT", "I"),
    ]);
    const { faults, pruned } = candidatesFor(sites, [], FAULT_KINDS, {
      schemaTables: ["billing.accounts"],
    });
    const at = (kind: string) => faults.filter((f) => f.kind === kind).map((f) => f.target);
    expect(at("undefined-column")).toEqual(["SELECT id FROM billing.accounts WHERE email = $1"]);
    expect(at("undefined-table")).toHaveLength(1);
    // A timeout or a cut connection can hit the catalog query as well as any other.
    expect(at("statement-timeout")).toHaveLength(2);
    expect(pruned).toContainEqual({
      reason: expect.stringContaining("the system catalog a driver reads does not drift"),
      count: 2,
    });
  });
});

function result(invariants: [string, boolean][], statuses: number[] = [200]): ScenarioResult {
  return {
    verdict: invariants.every(([, ok]) => ok) ? "pass" : "fail",
    invariants: invariants.map(([name, passed]) => ({
      name,
      passed,
      expected: "",
      seen: "seen",
      evidence: [],
    })),
    deliveries: statuses.map((status, i) => ({ status, label: `w${i}`, eventId: `evt_${i}` })),
  } as unknown as ScenarioResult;
}

describe("explore's outcomes", () => {
  it("does not count the webhook a fault hit as a later one stopped by an earlier failure", () => {
    const t = (ms: number) => new Date(Date.parse("2026-12-03T00:00:00Z") + ms);
    const sent = (label: string, status: number, from: number) => ({
      label,
      eventId: `evt_${label}`,
      status,
      startedAt: t(from),
      finishedAt: t(from + 50),
    });
    // The scenario's own drift raised a 42703 the service handled during "known" (a 2xx), so
    // processingContinues takes "known" as the first failure; the fault then hit "unknown".
    const run = (later: number) =>
      ({
        ...result([["processingContinues", false]], []),
        deliveries: [sent("known", 200, 0), sent("unknown", 500, 100), sent("later", later, 200)],
        faults: [
          {
            conn: 1,
            rule: "explore-3-undefined-column",
            fault: "sqlError",
            sql: "SELECT",
            at: t(120).toISOString(),
          },
        ],
      }) as unknown as ScenarioResult;
    expect(classify(run(200)).outcome).toBe("failed safe");
    // A webhook sent after the hit one was answered, and refused: that one was stopped.
    expect(classify(run(500))).toMatchObject({
      outcome: "harmful",
      failed: ["processingContinues"],
    });
  });

  it("calls a service that will not start under a startup fault failed safe, and any other run error errored", () => {
    const down = {
      verdict: "error",
      invariants: [],
      deliveries: [],
      error: {
        code: "FL_SERVICE_FAILED",
        message: "the service exited with code 1 before it became healthy\n--- output",
        exitCode: 3,
      },
    } as unknown as ScenarioResult;
    expect(classify(down, false, [], true)).toMatchObject({
      outcome: "failed safe",
      failed: ["serviceStarts"],
      seen: expect.stringContaining("exited with code 1 before it became healthy"),
    });
    expect(classify(down).outcome).toBe("errored");
  });

  it("calls a webhook the service never answered a hang, whatever the invariants said", () => {
    const hung = {
      ...result([["noCascade", true]]),
      deliveries: [{ status: 0, label: "pay", error: "Headers Timeout Error" }],
    } as unknown as ScenarioResult;
    expect(classify(hung)).toMatchObject({ outcome: "harmful", failed: ["hang"] });
    // No answer because the service refused the connection is not a hang: the provider retries.
    const refused = {
      ...result([["userResolved", false]]),
      deliveries: [{ status: 0, label: "pay", error: "connect ECONNREFUSED" }],
    } as unknown as ScenarioResult;
    expect(classify(refused).outcome).toBe("failed safe");
  });

  it("counts a candidate's own harms: a duplicate that changed the tables is a double effect", () => {
    const doubled = result([["idempotent", false]]);
    expect(classify(doubled).outcome).toBe("harmful"); // acknowledged without effect
    expect(classify(doubled, false, ["idempotent"])).toMatchObject({
      outcome: "harmful",
      failed: ["idempotent"],
    });
  });

  it("sorts survived, failed safe, harmful and acknowledged-without-effect", () => {
    expect(classify(result([["noCascade", true]])).outcome).toBe("survived");
    expect(classify(result([["noCascade", false]])).outcome).toBe("harmful");
    // Its own check failed, but the provider was told (500) and will retry: safe.
    expect(classify(result([["creditsApplied", false]], [500, 200])).outcome).toBe("failed safe");
    // The same behind 2xx only: the effect is lost and nobody retries.
    const silent = classify(result([["creditsApplied", false]], [200, 200]));
    expect(silent.outcome).toBe("harmful");
    expect(silent.failed[0]).toBe("acknowledgedWithoutEffect");
    // A redelivery that changes tables after a refused first delivery is not harm.
    expect(classify(result([["idempotent", false]], [500, 200])).outcome).toBe("failed safe");
    // Refused once, then acknowledged on the provider's retry: nothing is left to retry, so a
    // missing effect is a silent loss.
    const retried = {
      ...result([["creditsApplied", false]]),
      deliveries: [500, 200].map((status, i) => ({
        status,
        label: "pay",
        eventId: "evt_1",
        attempt: i + 1,
      })),
    } as unknown as ScenarioResult;
    expect(classify(retried).failed[0]).toBe("acknowledgedWithoutEffect");
  });

  it("leaves out an invariant whose own query could not run", () => {
    const r = result([["creditsApplied", false]], [200]);
    (r.invariants[0] as { seen: string }).seen = 'query failed: column "tax_cents" does not exist';
    expect(classify(r).outcome).toBe("survived");
  });

  it("judges effects only behind an acknowledgement: with every delivery refused, nothing is lost", () => {
    expect(classify(result([["effectOnce", false]], [500, 500])).outcome).toBe("failed safe");
    expect(classify(result([["effectOnce", false]], [200, 500])).outcome).toBe("harmful");
  });

  it("does not call later webhooks failing under drift a poisoning: each fails on its own", () => {
    const r = result([["processingContinues", false]], [500, 500]);
    expect(classify(r).outcome).toBe("harmful");
    expect(classify(r, true).outcome).toBe("failed safe");
  });
});
