// postgres-js (`postgres`) behind node:http, one connection, transactions through sql.begin.
import { createServer } from "node:http";
import postgres from "postgres";

const variant = process.argv[2];
const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });

async function broken(event, email) {
  // The incident's shape: each error is logged and swallowed inside the transaction. sql.begin
  // remembers that a query failed and ends with ROLLBACK rather than COMMIT, but by then the
  // INSERT has already met the aborted transaction.
  await sql
    .begin(async (tx) => {
      await tx`SELECT id, credits_balance FROM users WHERE email = ${email}`.catch((e) =>
        console.error(`select failed, carrying on: ${e.code} ${e.message}`),
      );
      await tx`INSERT INTO webhook_events (event_id, type) VALUES (${event.id}, ${event.type})`.catch(
        (e) => console.error(`insert failed, carrying on: ${e.code} ${e.message}`),
      );
    })
    .catch(() => {});
  return 200;
}

const insert = (tx, event) =>
  tx`INSERT INTO webhook_events (event_id, type) VALUES (${event.id}, ${event.type})`;

async function fixed(event, email) {
  let columnMissing = false;
  try {
    await sql.begin(async (tx) => {
      try {
        await tx`SELECT id, credits_balance FROM users WHERE email = ${email}`;
      } catch (e) {
        columnMissing = true;
        throw e;
      }
      await insert(tx, event);
    });
    return 200;
  } catch (e) {
    // sql.begin has rolled back already.
    console.error(
      `${columnMissing ? "select" : "insert"} failed, rolled back: ${e.code} ${e.message}`,
    );
    if (!columnMissing) return 500;
  }
  try {
    await sql.begin(async (tx) => {
      await tx`SELECT id FROM users WHERE email = ${email}`;
      await insert(tx, event);
    });
    return 200;
  } catch (e) {
    console.error(`insert failed, rolled back: ${e.code} ${e.message}`);
    return 500;
  }
}

const handle = variant === "broken" ? broken : fixed;
let queue = Promise.resolve();
createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") return void res.end("ok");
  if (req.method !== "POST" || req.url !== "/webhooks/stripe") {
    res.statusCode = 404;
    return void res.end();
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    queue = queue.then(async () => {
      let status = 500;
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString());
        status = await handle(event, event.data?.object?.customer_details?.email ?? null);
      } catch (e) {
        console.error(`webhook failed: ${e.message}`);
      }
      res.statusCode = status;
      res.end();
    });
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
