import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type RunEnvironment,
  type ScenarioDatabase,
  startEnvironment,
} from "../harness/postgres/index.ts";
import {
  type ResolvedService,
  resolveService,
  type StartedService,
  startService,
} from "../harness/service/index.ts";
import { ROOT, runCli, startCli } from "./cli.ts";
import { checkoutSessionEvent } from "./stripe-events.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-replay-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const secret = "whsec_replay_e2e_secret";

/** A real service that verifies Stripe's signature: 200 when valid, 400 otherwise. */
async function stripeService(received: string[]): Promise<{ server: Server; url: string }> {
  const stripe = new Stripe("sk_test_x");
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const event = stripe.webhooks.constructEvent(
          body,
          String(req.headers["stripe-signature"]),
          secret,
        );
        received.push(event.id);
        res.writeHead(200).end("{}");
      } catch {
        res.writeHead(400).end("bad signature");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

const event = (id: string, created: number, email: string) => ({
  id,
  object: "event",
  api_version: "2025-06-30.basil",
  created,
  type: "checkout.session.completed",
  data: {
    object: {
      id: `cs_test_${id}`,
      object: "checkout.session",
      customer_details: { email, name: "Jane Payer" },
    },
  },
});

describe("import, replay and record from the command line", () => {
  it("imports a Stripe export, scrubbed, and replays it re-signed; exit 0 only when all got a 2xx", async () => {
    const list = path.join(dir, "events.json");
    await writeFile(
      list,
      JSON.stringify({
        object: "list",
        data: [event("evt_2", 200, "jane@corp.example"), event("evt_1", 100, "joe@corp.example")],
      }),
    );
    const out = path.join(dir, "imported");
    const imported = await runCli(["import", "stripe-events", list, "--out", out]);
    expect(imported.code, imported.stderr).toBe(0);
    const files = await readdir(out);
    expect(files.filter((f) => f.endsWith(".body"))).toHaveLength(2);
    const bodies = await Promise.all(
      files.filter((f) => f.endsWith(".body")).map((f) => readFile(path.join(out, f), "utf8")),
    );
    expect(bodies.join("")).not.toContain("@corp.example");

    const received: string[] = [];
    const { server, url } = await stripeService(received);
    try {
      const replayed = await runCli([
        "replay",
        out,
        "--to",
        url,
        "--provider",
        "stripe",
        "--secret",
        secret,
      ]);
      expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);
      expect(received).toEqual(["evt_1", "evt_2"]); // oldest first
      expect(replayed.stdout).toContain("2 passed, 0 failed");
      const wrong = await runCli([
        "replay",
        out,
        "--to",
        url,
        "--provider",
        "stripe",
        "--secret",
        "whsec_not_it",
      ]);
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toContain("HTTP 400");
    } finally {
      server.close();
    }
    expect(
      (await runCli(["replay", out, "--to", url, "--provider", "stripey", "--secret", secret]))
        .code,
    ).toBe(2);
    expect((await runCli(["import", "stripe-events", path.join(dir, "missing.json")])).code).toBe(
      2,
    );
  });

  it("records requests through to the service, saving scrubbed fixtures without signatures", async () => {
    const received: string[] = [];
    const { server, url } = await stripeService(received);
    const out = path.join(dir, "recorded");
    const port = await freePort();
    const { child, done, untilOutput } = startCli([
      "record",
      "--listen",
      `127.0.0.1:${port}`,
      "--forward",
      url,
      "--out",
      out,
    ]);
    try {
      await untilOutput("listening on");
      const body = JSON.stringify(event("evt_rec", 300, "rec@corp.example"));
      const header = new Stripe("sk_test_x").webhooks.generateTestHeaderString({
        payload: body,
        secret,
      });
      const response = await fetch(`http://127.0.0.1:${port}/webhooks/stripe`, {
        method: "POST",
        body,
        headers: { "stripe-signature": header, "content-type": "application/json" },
      });
      expect(response.status).toBe(200);
      expect(received).toEqual(["evt_rec"]);
    } finally {
      child.kill("SIGINT");
      server.close();
    }
    expect((await done).code).toBe(0);
    const files = await readdir(out);
    const meta = JSON.parse(
      await readFile(path.join(out, files.find((f) => f.endsWith(".json")) as string), "utf8"),
    );
    expect(meta.eventId).toBe("evt_rec");
    expect(JSON.stringify(meta.headers)).not.toContain("stripe-signature");
    expect(
      await readFile(path.join(out, files.find((f) => f.endsWith(".body")) as string), "utf8"),
    ).not.toContain("rec@corp.example");
  });
});

describe("a recorded incident as a scenario", () => {
  it("sends the recorded bytes, re-signed, to the service, and judges them like any webhook", async () => {
    const base = path.join(dir, "incident-scenario");
    const list = path.join(dir, "incident-events.json");
    await writeFile(
      list,
      JSON.stringify({
        object: "list",
        data: [checkoutSessionEvent("evt_inc_2", 200), checkoutSessionEvent("evt_inc_1", 100)],
      }),
    );
    expect(
      (await runCli(["import", "stripe-events", list, "--out", path.join(base, "incident")])).code,
    ).toBe(0);
    const names = (await readdir(path.join(base, "incident")))
      .filter((f) => f.endsWith(".body"))
      .map((f) => f.replace(/\.body$/, ""));
    expect(names).toHaveLength(2);
    const scenario = path.join(base, "incident.scenario.ts");
    await writeFile(
      scenario,
      `export default ${JSON.stringify({
        name: "recorded-incident",
        webhooks: [
          { recorded: `incident/${names[0]}`, as: "first" },
          { recorded: `incident/${names[1]}` },
          { redeliver: "first" },
        ],
        invariants: [
          { invariant: "noLostEvents" },
          { invariant: "exactlyOnceEffect" },
          { invariant: "creditsApplied" },
          { invariant: "idempotent" },
        ],
      })};\n`,
    );
    const json = path.join(dir, "incident.json");
    const run = await runCli(["run", scenario, "--json", json]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(await readFile(json, "utf8"));
    expect(
      report.scenarios[0].deliveries.map((d: { eventId: string; status: number }) => [
        d.eventId,
        d.status,
      ]),
    ).toEqual([
      ["evt_inc_1", 200],
      ["evt_inc_2", 200],
      ["evt_inc_1", 200],
    ]);

    const wrong = path.join(base, "wrong.scenario.ts");
    await writeFile(
      wrong,
      `export default ${JSON.stringify({ name: "wrong", webhooks: [{ recorded: "incident/999-nope" }], invariants: [{ invariant: "noCascade" }] })};\n`,
    );
    const bad = await runCli(["run", wrong]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('field "webhooks[0].recorded": no recorded fixture');
  });
});

describe("replay of the stock fixtures against the reference payments service", () => {
  const paymentsSecret = "whsec_replay_stock_e2e";
  const stripeFixtures = path.join(ROOT, "fixtures", "webhooks", "stripe");
  let env: RunEnvironment;
  let resolved: ResolvedService;
  let db: ScenarioDatabase;
  let payments: StartedService;

  beforeAll(async () => {
    const root = path.join(dir, "pg");
    await mkdir(root);
    await chmod(dir, 0o755);
    await chmod(root, 0o755);
    process.env.FAULTLINE_TMPDIR = root;
    env = await startEnvironment();
    resolved = await resolveService("payments:fixed");
    db = await env.databases.create("replay stock", []);
    payments = await startService({
      spec: resolved.spec,
      env: {
        DATABASE_URL: db.url,
        PORT: String(await freePort()),
        STRIPE_WEBHOOK_SECRET: paymentsSecret,
      },
    });
  });
  afterAll(async () => {
    await payments?.stop();
    await resolved?.dispose();
    await env?.stop();
    delete process.env.FAULTLINE_TMPDIR;
  });

  const replayTo = (folder: string, ...more: string[]) =>
    runCli([
      "replay",
      folder,
      "--to",
      payments.url,
      "--provider",
      "stripe",
      "--secret",
      paymentsSecret,
      ...more,
    ]);
  const recordedEvents = async () =>
    (
      await db.query<{ event_id: string }>("SELECT event_id FROM webhook_events ORDER BY event_id")
    ).rows.map((r) => r.event_id);

  it("fixtures/webhooks/stripe gets a 2xx for every template, filled from the printed seed; the same seed sends the same events", async () => {
    const templates = (await readdir(stripeFixtures)).filter((f) => f.endsWith(".json"));
    const first = await replayTo("fixtures/webhooks/stripe");
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const seed = /seed (\d+) \(--seed \1 sends the same bytes\)/.exec(first.stdout)?.[1];
    expect(seed, first.stdout).toBeDefined();
    expect(first.stdout).toContain(
      `${templates.length} passed, 0 failed (0 recorded, ${templates.length} stock; seed ${seed})`,
    );
    expect(first.stdout).toMatch(
      /^ok {3}checkout\.session\.completed\.json checkout\.session\.completed evt_\w{24} → HTTP 200$/m,
    );
    const events = await recordedEvents();
    expect(events).toHaveLength(templates.length);
    const credited = await db.query("SELECT count(*)::int AS n FROM credit_grants");
    expect(credited.rows[0]?.n).toBe(1);

    // Same seed: the same events again, which the service recognises as redeliveries.
    const again = await replayTo("fixtures/webhooks/stripe", "--seed", seed as string);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    const ids = (out: string) => [...out.matchAll(/ (evt_\w{24}) → /g)].map((m) => m[1]);
    expect(ids(again.stdout)).toEqual(ids(first.stdout));
    expect(await recordedEvents()).toEqual(events);
    expect((await db.query("SELECT count(*)::int AS n FROM credit_grants")).rows[0]?.n).toBe(1);
  });

  it("a folder mixing recorded and stock fixtures sends both", async () => {
    const mixed = path.join(dir, "mixed");
    const list = path.join(dir, "mixed-events.json");
    await writeFile(
      list,
      JSON.stringify({ object: "list", data: [event("evt_mixed_1", 100, "mixed@corp.example")] }),
    );
    expect((await runCli(["import", "stripe-events", list, "--out", mixed])).code).toBe(0);
    await copyFile(
      path.join(stripeFixtures, "customer.created.json"),
      path.join(mixed, "customer.created.json"),
    );
    const run = await replayTo(mixed, "--seed", "42");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^ok {3}001-checkout-session-completed\.body checkout\.session\.completed evt_mixed_1 → HTTP 200$/m,
    );
    expect(run.stdout).toMatch(
      /^ok {3}customer\.created\.json customer\.created evt_\w{24} → HTTP 200$/m,
    );
    expect(run.stdout).toContain("2 passed, 0 failed (1 recorded, 1 stock; seed 42)");
    expect(await recordedEvents()).toContain("evt_mixed_1");
  });

  it("a folder with nothing to send, or a template nobody can fill, is exit 2 saying why", async () => {
    const empty = path.join(dir, "empty");
    await mkdir(empty);
    const none = await replayTo(empty);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`${empty}: nothing to replay: expected recorded fixtures`);
    expect(none.stderr).toContain("the folder is empty");
    expect(none.stdout).not.toContain("passed");

    const docs = await replayTo("fixtures/schemas");
    expect(docs.code).toBe(2);
    expect(docs.stderr).toMatch(/nothing to replay: .*; found only README\.md, dbmate\//);
    const providers = await replayTo("fixtures/webhooks");
    expect(providers.code).toBe(2);
    expect(providers.stderr).toContain(
      "found only github/, lemonsqueezy/, paddle/, shopify/, standard/, … (6 entries) (sub-folders are not searched)",
    );

    const custom = path.join(dir, "custom");
    await mkdir(custom);
    await writeFile(
      path.join(custom, "order.created.json"),
      JSON.stringify({ id: "{{event_id}}", type: "order.created", ref: "{{order_ref}}" }),
    );
    const unfilled = await replayTo(custom);
    expect(unfilled.code).toBe(2);
    expect(unfilled.stderr).toContain(
      `${path.join(custom, "order.created.json")}: no value for template variable {{order_ref}}; the stripe provider fills event_id,`,
    );
  });
});
