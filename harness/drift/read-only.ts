import pg from "pg";
import { PostgresFailedError } from "../errors.ts";
import { redactUrl } from "../postgres/index.ts";
import { type Catalog, readCatalog } from "./catalog.ts";

type Query = (sql: string) => Promise<pg.QueryResult<pg.QueryResultRow>>;

/**
 * Run `body` in one read-only transaction on `connectionString`, then roll it back. The
 * session's default is read-only too, so not even a statement outside the transaction could
 * write; and the transaction is checked to be read-only before `body` sees it, so a pooler or
 * server that ignored both is refused rather than trusted.
 */
export async function withReadOnlyTransaction<T>(
  connectionString: string,
  body: (query: Query) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    connectionString,
    application_name: "faultline drift",
    connectionTimeoutMillis: 10_000,
    // A catalog read that waits on production for long is a problem of its own: give up.
    options: "-c default_transaction_read_only=on -c statement_timeout=30000",
  });
  client.on("error", () => {});
  const shown = redactUrl(new URL(connectionString));
  try {
    await client.connect();
  } catch (error) {
    throw new PostgresFailedError(
      `cannot reach Postgres at ${shown}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  try {
    await client.query("BEGIN TRANSACTION READ ONLY");
    const { rows } = await client.query<{ ro: string }>(
      "SELECT current_setting('transaction_read_only') AS ro",
    );
    if (rows[0]?.ro !== "on")
      throw new PostgresFailedError(
        `Postgres at ${shown} did not give a read-only transaction (transaction_read_only = ${rows[0]?.ro}): refusing to read production through it`,
      );
    return await body((sql) => client.query(sql));
  } finally {
    await client.query("ROLLBACK").catch(() => {});
    await client.end().catch(() => {});
  }
}

/** A database's catalog, read in one read-only transaction of catalog SELECTs. */
export function readCatalogReadOnly(connectionString: string): Promise<Catalog> {
  return withReadOnlyTransaction(connectionString, readCatalog);
}
