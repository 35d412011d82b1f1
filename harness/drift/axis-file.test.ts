import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BadUsageError } from "../errors.ts";
import { scenarioSchema } from "../scenario/index.ts";
import { productionAxisModule, writeNewFile } from "./axis-file.ts";
import type { Catalog, TableShape } from "./catalog.ts";
import { compareCatalogs } from "./compare.ts";

function table(key: string, columns: string[], extra: Partial<TableShape> = {}): TableShape {
  const [schema, name] = key.includes(".") ? key.split(".") : ["public", key];
  return {
    key,
    schema: schema as string,
    name: name as string,
    kind: "table",
    columns: columns.map((c) => ({ name: c, type: "text", notNull: false, default: undefined })),
    constraints: [],
    indexes: [],
    ...extra,
  };
}

const migrations: Catalog = new Map([
  [
    "users",
    table("users", ["id", "email", "credits_balance"], {
      indexes: [
        {
          name: "users_email_idx",
          definition: "CREATE INDEX users_email_idx ON public.users USING btree (email)",
          columns: ["email"],
        },
      ],
    }),
  ],
  ["billing.invoices", table("billing.invoices", ["id"])],
]);
const production: Catalog = new Map([["users", table("users", ["id", "email"])]]);

const scratch = await mkdtemp(path.join(tmpdir(), "faultline-axis-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("the written schema axis", () => {
  const report = {
    migrations: "plain migrations: 2 files in ./db",
    production: "prod.sql",
    differences: compareCatalogs(migrations, production),
    tables: 2,
    ms: 1,
  };

  it("is a module a scenario spreads into its matrix, valid as a scenario's schema axis", async () => {
    const file = path.join(scratch, "production-schema.ts");
    await writeNewFile(file, productionAxisModule(report, "faultline drift --production prod.sql"));
    // The CLI's loader resolves "faultline" to the running harness; under vitest the sources are
    // that harness, so the copy imports the very same helpers from them.
    const copy = path.join(scratch, "as-loaded.ts");
    const define = path.join(import.meta.dirname, "..", "scenario", "define.ts");
    await writeFile(
      copy,
      (await readFile(file, "utf8")).replace('from "faultline"', `from ${JSON.stringify(define)}`),
    );
    const axis = ((await import(copy)) as { default: { schema: unknown[] } }).default;
    expect(axis.schema).toEqual([
      {
        name: "production",
        drift: [
          { sql: 'DROP INDEX IF EXISTS "users_email_idx"' },
          { dropColumn: "users.credits_balance" },
          { dropTable: "billing.invoices" },
        ],
      },
      { name: "migrations", drift: [] },
    ]);
    const parsed = scenarioSchema.safeParse({
      name: "on-production",
      matrix: { ...axis },
      webhooks: [{ fixture: "checkout.session.completed" }],
      invariants: [{ invariant: "noCascade" }],
    });
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(await readFile(file, "utf8")).toMatch(
      /^\/\/ {3}users\.credits_balance: missing in production$/m,
    );
  });

  it("never overwrites a file", async () => {
    const file = path.join(scratch, "kept.ts");
    await writeFile(file, "// mine\n");
    await expect(writeNewFile(file, "x")).rejects.toThrow(BadUsageError);
    await expect(writeNewFile(file, "x")).rejects.toThrow(/the file exists/);
    expect(await readFile(file, "utf8")).toBe("// mine\n");
  });
});
