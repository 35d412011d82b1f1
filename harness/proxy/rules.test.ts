import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { describeRuleIssues, RuleSet, type RuleSpec, rulesFileSchema } from "./rules.ts";
import { type StatementInfo, statementKind } from "./statement.ts";

function stmt(sql: string, extra: Partial<StatementInfo> = {}): StatementInfo {
  return {
    sql,
    kind: statementKind(sql),
    inTransaction: false,
    applicationName: "app",
    database: "db",
    atMs: 0,
    ...extra,
  };
}

const boom = { type: "sqlError", sqlstate: "42703", message: "boom" } as const;

function rules(...specs: RuleSpec[]): RuleSet {
  return new RuleSet(seededRandom(1), specs);
}

/** Which of these statements fire (indexes), and the rule that fired on each. */
function fired(set: RuleSet, statements: StatementInfo[]): [number, string][] {
  const out: [number, string][] = [];
  statements.forEach((s, i) => {
    const f = set.onStatement(s);
    if (f) out.push([i, f.rule]);
  });
  return out;
}

describe("RuleSet matching", () => {
  it("matches a substring of the SQL", () => {
    const set = rules({ name: "r", match: { sql: "credits_balance" }, fault: boom });
    expect(set.onStatement(stmt("SELECT id, credits_balance FROM users"))?.rule).toBe("r");
    expect(set.onStatement(stmt("SELECT id FROM users"))).toBeUndefined();
    // Substring, case-sensitive: not a regex, not a word match.
    expect(set.onStatement(stmt("SELECT CREDITS_BALANCE FROM users"))).toBeUndefined();
    expect(set.onStatement(stmt("SELECT a.credits_balance_old FROM a"))?.rule).toBe("r");
  });

  it("matches a regular expression", () => {
    const set = rules({
      name: "re",
      match: { sqlRegex: "^\\s*insert\\s+into\\s+users\\b" },
      fault: boom,
    });
    expect(set.onStatement(stmt("  insert into users (email) values ($1)"))?.rule).toBe("re");
    expect(set.onStatement(stmt("INSERT INTO users (email) VALUES ($1)"))).toBeUndefined();
    expect(set.onStatement(stmt("insert into users_archive select 1"))).toBeUndefined();
  });

  it("matches on kind", () => {
    const set = rules({ name: "commit", match: { kind: "COMMIT" }, fault: boom });
    const got = fired(set, [
      stmt("BEGIN"),
      stmt("SELECT 1"),
      stmt("commit"),
      stmt("END"),
      stmt("ROLLBACK"),
    ]);
    expect(got).toEqual([
      [2, "commit"],
      [3, "commit"],
    ]);
  });

  it("matches on whether the connection is in a transaction block", () => {
    const inTx = rules({ name: "tx", match: { inTransaction: true }, fault: boom });
    expect(inTx.onStatement(stmt("SELECT 1", { inTransaction: false }))).toBeUndefined();
    expect(inTx.onStatement(stmt("SELECT 1", { inTransaction: true }))?.rule).toBe("tx");
    const outside = rules({ name: "out", match: { inTransaction: false }, fault: boom });
    expect(outside.onStatement(stmt("SELECT 1", { inTransaction: true }))).toBeUndefined();
    expect(outside.onStatement(stmt("SELECT 1", { inTransaction: false }))?.rule).toBe("out");
  });

  it("all conditions of a match must hold together", () => {
    const set = rules({
      name: "all",
      match: { sql: "users", kind: "UPDATE", inTransaction: true, database: "db" },
      fault: boom,
    });
    expect(set.onStatement(stmt("UPDATE users SET a = 1", { inTransaction: true }))?.rule).toBe(
      "all",
    );
    expect(set.onStatement(stmt("UPDATE users SET a = 1"))).toBeUndefined();
    expect(set.onStatement(stmt("SELECT * FROM users", { inTransaction: true }))).toBeUndefined();
    expect(
      set.onStatement(stmt("UPDATE users SET a = 1", { inTransaction: true, database: "other" })),
    ).toBeUndefined();
  });

  it("fires on the nth match only, counting only statements that match the rest", () => {
    const set = rules({ name: "third", match: { kind: "INSERT", nth: 3 }, fault: boom });
    const statements = [
      stmt("INSERT INTO t VALUES (1)"), // match 1
      stmt("SELECT 1"),
      stmt("INSERT INTO t VALUES (2)"), // match 2
      stmt("SELECT 2"),
      stmt("INSERT INTO t VALUES (3)"), // match 3: fires
      stmt("INSERT INTO t VALUES (4)"),
      stmt("INSERT INTO t VALUES (5)"),
    ];
    expect(fired(set, statements)).toEqual([[4, "third"]]);
  });

  it("fires on every nth match", () => {
    const set = rules({ name: "every3", match: { sql: "x", every: 3 }, fault: boom });
    const statements = Array.from({ length: 10 }, (_, i) => stmt(i % 2 ? "SELECT x" : "SELECT y"));
    // Matches are the odd indexes 1,3,5,7,9; every third of them is index 5.
    expect(fired(set, statements)).toEqual([[5, "every3"]]);
    const every2 = rules({ name: "every2", match: { every: 2 }, fault: boom });
    expect(
      fired(
        every2,
        Array.from({ length: 6 }, () => stmt("SELECT 1")),
      ).map(([i]) => i),
    ).toEqual([1, 3, 5]);
  });

  it("fires with a probability drawn from the seeded random, and the seed replays it", () => {
    const statements = Array.from({ length: 400 }, (_, i) => stmt(`SELECT ${i}`));
    const run = (seed: number) =>
      fired(
        new RuleSet(seededRandom(seed), [{ name: "p", match: { probability: 0.3 }, fault: boom }]),
        statements,
      ).map(([i]) => i);
    const a = run(42);
    expect(run(42)).toEqual(a);
    expect(run(43)).not.toEqual(a);
    // Roughly 30%: 400 draws, binomial sd ≈ 9.
    expect(a.length).toBeGreaterThan(80);
    expect(a.length).toBeLessThan(160);
    // The same draws as the seeded source gives directly: one draw per matching statement.
    const random = seededRandom(42);
    const direct = statements.map((_, i) => i).filter(() => random.next() < 0.3);
    expect(a).toEqual(direct);
  });

  it("probability 0 never fires and 1 always does", () => {
    const statements = Array.from({ length: 50 }, () => stmt("SELECT 1"));
    expect(
      fired(rules({ name: "never", match: { probability: 0 }, fault: boom }), statements),
    ).toEqual([]);
    expect(
      fired(rules({ name: "always", match: { probability: 1 }, fault: boom }), statements),
    ).toHaveLength(50);
  });

  it("matches on application name and database", () => {
    const set = rules(
      { name: "byApp", match: { applicationName: "payments" }, fault: boom },
      { name: "byDb", match: { database: "ledger" }, fault: boom },
    );
    expect(set.onStatement(stmt("SELECT 1", { applicationName: "payments" }))?.rule).toBe("byApp");
    expect(set.onStatement(stmt("SELECT 1", { database: "ledger" }))?.rule).toBe("byDb");
    expect(set.onStatement(stmt("SELECT 1", { applicationName: "payments-2" }))).toBeUndefined();
    expect(set.onStatement(stmt("SELECT 1"))).toBeUndefined();
  });

  it("matches only inside its time window", () => {
    const set = rules({ name: "window", match: { afterMs: 1000, untilMs: 2000 }, fault: boom });
    const at = (atMs: number) => set.onStatement(stmt("SELECT 1", { atMs }))?.rule;
    expect(at(0)).toBeUndefined();
    expect(at(999)).toBeUndefined();
    expect(at(1000)).toBe("window");
    expect(at(1500)).toBe("window");
    expect(at(2000)).toBe("window");
    expect(at(2001)).toBeUndefined();
  });

  it("the first rule (in order added) that fires wins; one that holds but does not fire lets the next try", () => {
    const set = rules(
      { name: "second-insert", match: { kind: "INSERT", nth: 2 }, fault: boom },
      { name: "any-insert", match: { kind: "INSERT" }, fault: boom },
    );
    expect(fired(set, [stmt("INSERT 1"), stmt("INSERT 2"), stmt("INSERT 3")])).toEqual([
      [0, "any-insert"],
      [1, "second-insert"],
      [2, "any-insert"],
    ]);
  });

  it("does not apply connection rules to statements or statement rules to connections", () => {
    const set = rules(
      { name: "refuse", fault: { type: "refuseConnections" } },
      { name: "stmt", fault: boom },
    );
    expect(set.onStatement(stmt("SELECT 1"))?.rule).toBe("stmt");
    const connect = set.onConnect({ applicationName: "app", database: "db", atMs: 0 });
    expect(connect?.rule).toBe("refuse");
    expect(connect?.action).toEqual({
      action: "refuse",
      sqlstate: "53300",
      message: "sorry, too many clients already",
    });
  });

  it("hands back the fault's action: sqlError replaces the statement with a RAISE", () => {
    const set = rules({
      name: "r",
      fault: { type: "sqlError", sqlstate: "40001", message: "it's $$ bad" },
    });
    const action = set.onStatement(stmt("SELECT 1"))?.action;
    expect(action?.action).toBe("replace");
    const sql = action?.action === "replace" ? action.sql : "";
    expect(sql).toMatch(/^DO /);
    expect(sql).toContain("ERRCODE = '40001'");
    expect(sql).toContain("it's $$ bad");
  });

  it("resolves presets to their fault", () => {
    const set = rules({ name: "p", fault: { type: "preset", name: "serialization_failure" } });
    const f = set.onStatement(stmt("SELECT 1"));
    expect(f?.fault.type).toBe("sqlError");
    expect(f?.action.action === "replace" && f.action.sql).toContain("'40001'");
  });

  it("draws latency jitter from the seeded random, within ms ± jitterMs", () => {
    const delays = (seed: number) => {
      const set = new RuleSet(seededRandom(seed), [
        { name: "slow", fault: { type: "latency", ms: 100, jitterMs: 50 } },
      ]);
      return Array.from({ length: 30 }, () => {
        const action = set.onStatement(stmt("SELECT 1"))?.action;
        return action?.action === "delay" ? action.ms : Number.NaN;
      });
    };
    const a = delays(7);
    expect(delays(7)).toEqual(a);
    for (const ms of a) {
      expect(ms).toBeGreaterThanOrEqual(50);
      expect(ms).toBeLessThanOrEqual(150);
    }
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

describe("RuleSet while running", () => {
  it("adds and removes rules between statements", () => {
    const set = rules();
    expect(set.size).toBe(0);
    expect(set.onStatement(stmt("SELECT 1"))).toBeUndefined();
    set.add({ name: "a", match: { sql: "1" }, fault: boom });
    expect(set.onStatement(stmt("SELECT 1"))?.rule).toBe("a");
    set.add({ name: "b", fault: boom });
    expect(set.names()).toEqual(["a", "b"]);
    expect(set.onStatement(stmt("SELECT 2"))?.rule).toBe("b");
    expect(set.remove("a")).toBe(true);
    expect(set.remove("a")).toBe(false);
    expect(set.onStatement(stmt("SELECT 1"))?.rule).toBe("b");
    expect(set.remove("b")).toBe(true);
    expect(set.size).toBe(0);
    expect(set.onStatement(stmt("SELECT 1"))).toBeUndefined();
  });

  it("adding a rule with a name in use replaces it, with fresh counters", () => {
    const set = rules({ name: "n", match: { nth: 2 }, fault: boom });
    expect(set.onStatement(stmt("SELECT 1"))).toBeUndefined();
    set.add({ name: "n", match: { nth: 2 }, fault: { type: "blackhole" } });
    expect(set.size).toBe(1);
    expect(set.onStatement(stmt("SELECT 1"))).toBeUndefined();
    expect(set.onStatement(stmt("SELECT 1"))?.fault.type).toBe("blackhole");
  });

  it("refuses an invalid rule without changing the rules in force", () => {
    const set = rules({ name: "keep", fault: boom });
    expect(() => set.add({ name: "keep", match: { nth: 0 }, fault: boom })).toThrow(
      /rule "keep".*field "match\.nth"/,
    );
    expect(set.names()).toEqual(["keep"]);
    expect(set.onStatement(stmt("SELECT 1"))?.rule).toBe("keep");
  });
});

describe("rule validation messages", () => {
  function issues(value: unknown): string {
    const result = rulesFileSchema.safeParse(value);
    expect(result.success).toBe(false);
    return result.success ? "" : describeRuleIssues(value, result.error.issues);
  }

  it("names the rule and the field for an unknown match field", () => {
    const message = issues({ rules: [{ name: "x", match: { sqll: "SELECT" }, fault: boom }] });
    expect(message).toContain('rule "x"');
    expect(message).toContain('field "match.sqll"');
    expect(message).toContain("unknown field");
  });

  it("names the right rule among several", () => {
    const message = issues({
      rules: [
        { name: "fine", fault: boom },
        { name: "broken", match: { every: -2 }, fault: boom },
      ],
    });
    expect(message).toContain('rule "broken"');
    expect(message).toContain('field "match.every"');
    expect(message).not.toContain('rule "fine"');
  });

  it.each([
    [{ type: "sqlError", sqlstate: "4270", message: "m" }, "fault.sqlstate"],
    [{ type: "sqlErr" }, "fault.type"],
    [{ type: "latency", ms: 10, jiter: 3 }, "fault.jiter"],
    [{ type: "latency", ms: -1 }, "fault.ms"],
    [{ type: "latency", ms: 10, when: "during" }, "fault.when"],
    [{ type: "preset", name: "nope" }, "fault.name"],
    [{ type: "resetConnection", when: "never" }, "fault.when"],
  ])("names the fault field for %j", (fault, field) => {
    const message = issues({ rules: [{ name: "f", fault }] });
    expect(message).toContain('rule "f"');
    expect(message).toContain(`field "${field}"`);
  });

  it.each([
    [{ sqlRegex: "(" }, "match.sqlRegex", /regular expression/],
    [{ probability: 1.5 }, "match.probability", /1/],
    [{ kind: "SELEKT" }, "match.kind", /SELECT/],
    [{ nth: 1.5 }, "match.nth", /int/i],
  ])("names the match field for %j", (match, field, detail) => {
    const message = issues({ rules: [{ name: "m", match, fault: boom }] });
    expect(message).toContain('rule "m"');
    expect(message).toContain(`field "${field}"`);
    expect(message).toMatch(detail);
  });

  it("names a rule without a name by its position", () => {
    const message = issues({ rules: [{ name: "a", fault: boom }, { fault: boom }] });
    expect(message).toContain("rule #2");
    expect(message).toContain('field "name"');
  });

  it("names unknown top-level fields", () => {
    const message = issues({ rule: [] });
    expect(message).toContain('field "rule"');
  });

  it("RuleSet.add throws the same kind of message", () => {
    expect(() => rules({ name: "x", match: { sqll: "a" } as never, fault: boom })).toThrow(
      /rule "x".*field "match\.sqll"/,
    );
  });

  it("accepts a valid rules file with every match field", () => {
    const value = {
      seed: 7,
      rules: [
        {
          name: "all",
          match: {
            sql: "a",
            sqlRegex: "b",
            kind: "SELECT",
            inTransaction: true,
            nth: 1,
            every: 2,
            probability: 0.5,
            applicationName: "app",
            database: "db",
            afterMs: 0,
            untilMs: 10,
          },
          fault: { type: "latency", ms: 5, jitterMs: 1, when: "after" },
        },
        { name: "refuse", fault: { type: "refuseConnections", count: 2 } },
        { name: "preset", fault: { type: "preset", name: "deadlock_detected" } },
      ],
    };
    expect(rulesFileSchema.safeParse(value).success).toBe(true);
  });
});

describe("times", () => {
  it("fires at most that many times, then lets statements through", () => {
    const set = new RuleSet(seededRandom(1), [
      {
        name: "twice",
        match: { sql: "INSERT", times: 2 },
        fault: { type: "sqlError", sqlstate: "40001", message: "x" },
      },
    ]);
    const fired = [1, 2, 3, 4].map(() => set.onStatement(stmt("INSERT INTO t VALUES (1)"))?.rule);
    expect(fired).toEqual(["twice", "twice", undefined, undefined]);
  });
});
