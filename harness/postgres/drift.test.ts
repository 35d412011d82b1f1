import { describe, expect, it } from "vitest";
import { driftSql, migrationsUpTo } from "./drift.ts";

describe("drift", () => {
  it("quotes identifiers so a drift step cannot smuggle SQL", () => {
    expect(driftSql({ dropColumn: "users.credits_balance" })).toBe(
      'ALTER TABLE "users" DROP COLUMN "credits_balance" CASCADE',
    );
    expect(driftSql({ renameColumn: "public.users.email", to: 'e"; drop' })).toBe(
      'ALTER TABLE "public"."users" RENAME COLUMN "email" TO "e""; drop"',
    );
    expect(driftSql({ dropTable: "credit_grants" })).toBe('DROP TABLE "credit_grants" CASCADE');
  });

  it("rejects a column reference without a table", () => {
    expect(() => driftSql({ dropColumn: "credits_balance" })).toThrow(/expected "table.column"/);
  });

  it("picks the lowest stopAtMigration as the template", () => {
    expect(migrationsUpTo([], 2)).toBe(2);
    expect(migrationsUpTo([{ stopAtMigration: 1 }, { dropTable: "x" }], 2)).toBe(1);
  });
});
