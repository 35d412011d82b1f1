import { readFile } from "node:fs/promises";
import { z } from "zod";
import { BadRulesError } from "../errors.ts";
import type { Random } from "../random/index.ts";
import { createFault, type Fault, type FaultAction, faultSpecSchema } from "./faults/index.ts";
import { TextMemo } from "./memo.ts";
import { STATEMENT_KINDS, type StatementInfo } from "./statement.ts";

const matchSchema = z.strictObject({
  /** Substring of the statement's SQL (for Bind/Execute: the prepared statement's SQL). */
  sql: z.string().min(1).optional(),
  sqlRegex: z
    .string()
    .min(1)
    .refine(
      (s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      },
      { message: "not a valid regular expression" },
    )
    .optional(),
  kind: z.enum(STATEMENT_KINDS as [string, ...string[]]).optional(),
  inTransaction: z.boolean().optional(),
  /** Fire only on the nth statement (or connection) that matches the rest, counting from 1. */
  nth: z.number().int().positive().optional(),
  /** Fire on every nth match. */
  every: z.number().int().positive().optional(),
  /** Fire at most this many times (then the rule stays in force but quiet). */
  times: z.number().int().positive().optional(),
  /** Fire with this probability, drawn from the seeded random. */
  probability: z.number().min(0).max(1).optional(),
  applicationName: z.string().optional(),
  database: z.string().optional(),
  /** Only from this many milliseconds after the proxy started… */
  afterMs: z.number().nonnegative().optional(),
  /** …and until this many. */
  untilMs: z.number().nonnegative().optional(),
});

/** One rule as data: when `match` holds, inject `fault`. */
export const ruleSchema = z.strictObject({
  name: z.string().min(1),
  match: matchSchema.default({}),
  fault: faultSpecSchema,
});

/** A rules file, and a scenario's `faults` field. */
export const rulesFileSchema = z
  .strictObject({
    seed: z.number().int().nonnegative().optional(),
    rules: z.array(ruleSchema),
  })
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    file.rules.forEach((rule, index) => {
      if (names.has(rule.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "name"],
          message: `${JSON.stringify(rule.name)} is used by an earlier rule`,
        });
      }
      names.add(rule.name);
    });
  });

export type RuleSpec = z.input<typeof ruleSchema>;
export type RulesFile = z.input<typeof rulesFileSchema>;
type Match = z.output<typeof matchSchema>;

/** A rule that fired, and what its fault decided. */
export interface Fired {
  rule: string;
  fault: Fault;
  action: FaultAction;
}

interface ActiveRule {
  name: string;
  match: Match;
  fault: Fault;
  matches: number;
  /** How many times the rule has fired. */
  fired: number;
  sqlRegex: RegExp | undefined;
}

/** Validate a rules value (a parsed rules file); throws BadRulesError naming rule and field. */
export function parseRulesFile(value: unknown, where: string): z.output<typeof rulesFileSchema> {
  const parsed = rulesFileSchema.safeParse(value);
  if (!parsed.success)
    throw new BadRulesError(where, describeRuleIssues(value, parsed.error.issues));
  return parsed.data;
}

/** Read and validate a JSON rules file. */
export async function loadRulesFile(file: string): Promise<z.output<typeof rulesFileSchema>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new BadRulesError(file, `cannot be read: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRulesError(file, `is not valid JSON: ${(error as Error).message}`);
  }
  return parseRulesFile(value, file);
}

/** Errors in a rules value, each naming the rule and the field. */
export function describeRuleIssues(value: unknown, issues: z.core.$ZodIssue[]): string {
  const rules = (value as { rules?: { name?: unknown }[] } | undefined)?.rules;
  return issues
    .map((issue) => {
      const path = [...issue.path];
      let where = "";
      if (path[0] === "rules" && typeof path[1] === "number") {
        const name = rules?.[path[1]]?.name;
        where = `rule ${typeof name === "string" ? JSON.stringify(name) : `#${path[1] + 1}`} (rules[${path[1]}]) `;
        path.splice(0, 2);
      }
      const field = path.map(String).join(".");
      const keys =
        issue.code === "unrecognized_keys"
          ? issue.keys.map((k) => (field ? `${field}.${k}` : k))
          : [field || "(top level)"];
      const message = issue.code === "unrecognized_keys" ? "unknown field" : issue.message;
      return keys.map((k) => `${where}field "${k}": ${message}`).join("; ");
    })
    .join("; ");
}

/** Distinct SQL texts whose rule-match results are kept (ad-hoc SQL with inlined literals). */
const SQL_CACHE_LIMIT = 4096;

/**
 * The rules in force on a proxy. Rules may be added and removed while traffic flows; the first
 * rule (in order added) whose match holds fires. Counters for nth/every are per rule.
 */
export class RuleSet {
  private rules: ActiveRule[] = [];
  private readonly random: Random;
  /**
   * For each SQL text seen, whether each rule's `sql` and `sqlRegex` hold on it (index = rule
   * position). Those tests are pure, and a load test repeats a handful of statements, so each
   * distinct SQL is scanned by the rules once instead of once per statement per rule. Emptied
   * whenever the rules change, and when it grows past SQL_CACHE_LIMIT distinct texts.
   */
  private readonly sqlMatches = new TextMemo<Uint8Array>(SQL_CACHE_LIMIT);
  private scratch = new Uint8Array(0);

  constructor(random: Random, rules: RuleSpec[] = []) {
    this.random = random;
    for (const rule of rules) this.add(rule);
  }

  /** Add (or replace, by name) a rule. Throws with the rule and field named when it is invalid. */
  add(spec: RuleSpec): void {
    const parsed = ruleSchema.safeParse(spec);
    if (!parsed.success)
      throw new Error(
        describeRuleIssues(
          { rules: [spec] },
          parsed.error.issues.map((i) => ({ ...i, path: ["rules", 0, ...i.path] })),
        ),
      );
    const rule = parsed.data;
    this.remove(rule.name);
    this.sqlMatches.clear();
    this.rules.push({
      name: rule.name,
      match: rule.match,
      fault: createFault(rule.fault as { type: string }),
      matches: 0,
      fired: 0,
      sqlRegex: rule.match.sqlRegex ? new RegExp(rule.match.sqlRegex) : undefined,
    });
  }

  /** Remove a rule by name; true when there was one. */
  remove(name: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.name !== name);
    if (this.rules.length !== before) this.sqlMatches.clear();
    return this.rules.length !== before;
  }

  /** Names of the rules in force. */
  names(): string[] {
    return this.rules.map((r) => r.name);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first statement rule that fires for this statement, if any. */
  onStatement(info: StatementInfo): Fired | undefined {
    return this.fire("statement", info);
  }

  /** The first connection rule that fires for a new connection, if any. */
  onConnect(info: Pick<StatementInfo, "applicationName" | "database" | "atMs">): Fired | undefined {
    return this.fire("connect", info);
  }

  private fire(
    phase: "statement" | "connect",
    info: Partial<StatementInfo> & Pick<StatementInfo, "applicationName" | "database" | "atMs">,
  ): Fired | undefined {
    const sqlHolds = info.sql === undefined ? undefined : this.sqlMatchesFor(info.sql);
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as ActiveRule;
      if (rule.fault.phase !== phase) continue;
      if (sqlHolds && sqlHolds[i] === 0) continue;
      if (!this.holds(rule, info)) continue;
      rule.matches++;
      const { nth, every, probability } = rule.match;
      if (nth !== undefined && rule.matches !== nth) continue;
      if (every !== undefined && rule.matches % every !== 0) continue;
      if (probability !== undefined && !(this.random.next() < probability)) continue;
      if (rule.match.times !== undefined && rule.fired >= rule.match.times) continue;
      rule.fired++;
      const action = rule.fault.act(this.random);
      return { rule: rule.name, fault: rule.fault, action };
    }
    return undefined;
  }

  private sqlMatchesFor(sql: string): Uint8Array {
    let holds = this.sqlMatches.get(sql);
    if (holds) return holds;
    // While the memo rests (texts that never repeat) nothing keeps the answer: one array serves.
    if (this.sqlMatches.storing) holds = new Uint8Array(this.rules.length);
    else {
      if (this.scratch.length !== this.rules.length)
        this.scratch = new Uint8Array(this.rules.length);
      holds = this.scratch;
    }
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as ActiveRule;
      const m = rule.match;
      const ok =
        (m.sql === undefined || sql.includes(m.sql)) &&
        (rule.sqlRegex === undefined || rule.sqlRegex.test(sql));
      holds[i] = ok ? 1 : 0;
    }
    this.sqlMatches.set(sql, holds);
    return holds;
  }

  private holds(
    rule: ActiveRule,
    info: Partial<StatementInfo> & Pick<StatementInfo, "applicationName" | "database" | "atMs">,
  ): boolean {
    const m = rule.match;
    if (m.applicationName !== undefined && info.applicationName !== m.applicationName) return false;
    if (m.database !== undefined && info.database !== m.database) return false;
    if (m.afterMs !== undefined && info.atMs < m.afterMs) return false;
    if (m.untilMs !== undefined && info.atMs > m.untilMs) return false;
    // `sql` and `sqlRegex` were checked in fire(), through the per-SQL cache.
    if (info.sql === undefined) return true;
    if (m.kind !== undefined && info.kind !== m.kind) return false;
    if (m.inTransaction !== undefined && info.inTransaction !== m.inTransaction) return false;
    return true;
  }
}
