import { describe, expect, it } from "vitest";
import {
  describeDrift,
  driftSql,
  migrationCount,
  migrationsUpTo,
  UnknownMigrationError,
} from "./drift.ts";

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
    const plain = [
      { number: 1, name: "001_create_tables.sql", version: "001" },
      { number: 2, name: "002_users_credits_balance.sql", version: "002" },
    ];
    expect(migrationsUpTo([], plain)).toBe(2);
    expect(migrationsUpTo([{ stopAtMigration: 1 }, { dropTable: "x" }], plain)).toBe(1);
    expect(migrationsUpTo([{ stopAtMigration: 2 }, { stopAtMigration: "001" }], plain)).toBe(1);
  });

  it("counts a numeric stopAtMigration by NNN in a plain folder, by position otherwise", () => {
    // Plain NNN numbers may have gaps: 5 keeps 001 and 003, as it always did.
    const gaps = [
      { number: 1, name: "001_a.sql", version: "001" },
      { number: 3, name: "003_b.sql", version: "003" },
      { number: 10, name: "010_c.sql", version: "010" },
    ];
    expect(migrationCount(5, gaps)).toBe(2);
    expect(migrationCount(99, gaps)).toBe(3);
    const prisma = [
      { number: 1, name: "20240101120000_init", version: "20240101120000" },
      { number: 2, name: "20240202120000_credits", version: "20240202120000" },
    ];
    expect(migrationCount(1, prisma)).toBe(1);
    expect(migrationCount(5, prisma)).toBe(2);
  });

  it("finds a migration by file or folder name, name without .sql, or version", () => {
    const flyway = [
      { number: 1, name: "V1__init.sql", version: "V1" },
      { number: 2, name: "V1.1__users.sql", version: "V1.1" },
      { number: 3, name: "V1.10__teams.sql", version: "V1.10" },
      { number: 4, name: "V2_1__credits.sql", version: "V2_1" },
    ];
    expect(migrationCount("V1.1", flyway)).toBe(2);
    expect(migrationCount("V1.10__teams.sql", flyway)).toBe(3);
    expect(migrationCount("V2.1", flyway)).toBe(4);
    expect(migrationCount("1.0", flyway)).toBe(1);
    const drizzle = [
      { number: 1, name: "0000_teams_and_members.sql", version: "0000" },
      { number: 2, name: "0001_add_users.sql", version: "0001" },
    ];
    expect(migrationCount("0001_add_users", drizzle)).toBe(2);
    expect(migrationCount("0000", drizzle)).toBe(1);
    const golang = [{ number: 1, name: "000001_init.up.sql", version: "000001" }];
    expect(migrationCount("000001_init", golang)).toBe(1);
    expect(migrationCount("1", golang)).toBe(1);
  });

  it("names the known migrations when stopAtMigration names none", () => {
    const plain = [{ number: 1, name: "001_a.sql", version: "001" }];
    expect(() => migrationCount("002_b", plain)).toThrow(
      'stopAtMigration: no migration named "002_b"; known: 001_a.sql',
    );
    expect(() => migrationCount("002_b", plain)).toThrow(UnknownMigrationError);
  });

  it("quotes every part of a schema-qualified or mixed-case name", () => {
    expect(driftSql({ dropColumn: "billing.invoices.amount_cents" })).toBe(
      'ALTER TABLE "billing"."invoices" DROP COLUMN "amount_cents" CASCADE',
    );
    expect(driftSql({ dropTable: "billing.invoices" })).toBe(
      'DROP TABLE "billing"."invoices" CASCADE',
    );
    // Prisma's tables are quoted PascalCase: the quotes keep the case.
    expect(driftSql({ renameColumn: "User.email", to: "mail" })).toBe(
      'ALTER TABLE "User" RENAME COLUMN "email" TO "mail"',
    );
    expect(describeDrift({ stopAtMigration: "V1.1" })).toBe("migrations stop at V1.1");
  });
});
