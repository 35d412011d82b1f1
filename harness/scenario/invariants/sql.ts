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
    /** …or exactly these rows, in order (values compared as JSON). */
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
    try {
      rows = (await db.query(spec.query)).rows.map((r) => JSON.parse(JSON.stringify(r)));
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
    const passed = isDeepStrictEqual(rows, spec.rows);
    return result(
      name,
      passed,
      `rows ${JSON.stringify(spec.rows)}`,
      `rows ${JSON.stringify(rows)}`,
    );
  },
};
