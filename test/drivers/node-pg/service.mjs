// node-postgres (`pg`) behind node:http; one client, so whatever a request leaves the
// connection in, the next one inherits (as in the incident).
import { createServer } from "node:http";
import pg from "pg";

const variant = process.argv[2];
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.on("error", (e) => console.error(`connection error: ${e.message}`));
await client.connect();

const SELECT = "SELECT id, credits_balance FROM users WHERE email = $1";
const INSERT = "INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)";

async function broken(event, email) {
  await client.query("BEGIN");
  try {
    await client.query(SELECT, [email]);
  } catch (e) {
    console.error(`select failed, carrying on: ${e.code} ${e.message}`);
  }
  try {
    await client.query(INSERT, [event.id, event.type]);
  } catch (e) {
    console.error(`insert failed, carrying on: ${e.code} ${e.message}`);
  }
  await client.query("COMMIT").catch(() => {});
  return 200;
}

async function fixed(event, email) {
  await client.query("BEGIN");
  try {
    await client.query(SELECT, [email]);
  } catch (e) {
    console.error(`select failed, rolling back: ${e.code} ${e.message}`);
    await client.query("ROLLBACK");
    await client.query("BEGIN");
    await client.query("SELECT id FROM users WHERE email = $1", [email]);
  }
  try {
    await client.query(INSERT, [event.id, event.type]);
    await client.query("COMMIT");
    return 200;
  } catch (e) {
    console.error(`insert failed, rolling back: ${e.code} ${e.message}`);
    await client.query("ROLLBACK").catch(() => {});
    return 500;
  }
}

const handle = variant === "broken" ? broken : fixed;
// Requests are handled one at a time: one connection cannot hold two transactions.
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
