import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { type Invariant, result, rowLines } from "./invariant.ts";

const schema = z
  .strictObject({
    invariant: z.literal("sql"),
    /** What the check means, for reports. */
    name: z.string().min(1),
    query: z.string().min(1),
    /** Pass when the query returns exactly this many rows… */
    rowCount: z.number().int().nonnegative().optional(),
    /**
     * …or exactly these rows, in order (values compared as JSON, except that in an integer or
     * numeric column a number and a numeric string are compared by value: node-postgres returns
     * int8 and numeric as strings, `"4900"`, and `4900` is what a user writes).
     */
    rows: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .refine((s) => (s.rowCount === undefined) !== (s.rows === undefined), {
    message: "give exactly one of rowCount or rows",
  });

/** A plain SQL assertion for anything the built-ins do not cover. */
export const sql: Invariant<z.infer<typeof schema>> = {
  name: "sql",
  schema,
  label: (spec) => `sql(${spec.name})`,
  async evaluate(spec, { db }) {
    const name = `sql(${spec.name})`;
    let rows: Record<string, unknown>[];
    let numericColumns: Set<string>;
    try {
      const answer = await db.query(spec.query);
      rows = answer.rows.map((r) => JSON.parse(JSON.stringify(r)));
      numericColumns = new Set(
        (answer.fields ?? []).filter((f) => NUMERIC_TYPES.has(f.dataTypeID)).map((f) => f.name),
      );
    } catch (error) {
      return result(
        name,
        false,
        `query succeeds: ${spec.query}`,
        `query failed: ${(error as Error).message}`,
      );
    }
    if (spec.rowCount !== undefined) {
      return result(
        name,
        rows.length === spec.rowCount,
        `${spec.rowCount} row(s) from: ${spec.query}`,
        `${rows.length} row(s)`,
        rowLines(rows.slice(0, 10)),
      );
    }
    const passed = sameRows(rows, spec.rows ?? [], numericColumns);
    return result(
      name,
      passed,
      `rows ${JSON.stringify(spec.rows)}`,
      `rows ${JSON.stringify(rows)}`,
    );
  },
};

/** int2, int4, int8, oid, float4, float8, numeric. */
const NUMERIC_TYPES = new Set([21, 23, 20, 26, 700, 701, 1700]);

function sameRows(
  got: Record<string, unknown>[],
  expected: Record<string, unknown>[],
  numericColumns: Set<string>,
): boolean {
  if (got.length !== expected.length) return false;
  return got.every((row, i) => {
    const want = expected[i] as Record<string, unknown>;
    const keys = Object.keys(row);
    if (keys.length !== Object.keys(want).length) return false;
    return keys.every((key) => {
      if (!(key in want)) return false;
      if (numericColumns.has(key)) {
        const [a, b] = [decimal(row[key]), decimal(want[key])];
        if (a !== undefined && b !== undefined) return a === b;
      }
      return isDeepStrictEqual(row[key], want[key]);
    });
  });
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/**
 * A number or numeric string in one canonical decimal form ("4900.00", "04900" and 4900 alike
 * are "4900"), compared as text so int8 and numeric beyond 2^53 keep every digit. Anything
 * else (exponents, NaN, text) is undefined: compared as JSON instead.
 */
export function decimal(value: unknown): string | undefined {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    text = Number.isInteger(value) ? BigInt(value).toString() : String(value);
  } else if (typeof value === "string") text = value.trim();
  else return undefined;
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const whole = (m[2] as string).replace(/^0+(?=\d)/, "");
  const fraction = (m[3] ?? "").replace(/0+$/, "");
  const zero = whole === "0" && fraction === "";
  return `${m[1] === "-" && !zero ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}
