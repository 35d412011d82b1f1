import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { verify as verifyGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "./fixtures.ts";
import { githubProvider } from "./github-provider.ts";
import { webhookProviders } from "./index.ts";
import { type RecordedMetadata, writeFixturePair } from "./recorder.ts";
import { loadRecordedFixtures, replay } from "./replay.ts";
import { standardProvider } from "./standard-provider.ts";
import { importStripeEvents } from "./stripe-import.ts";
import { stripeProvider } from "./stripe-provider.ts";

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A real HTTP server that keeps what it receives and answers 200 once `hold` lets it. */
async function startService(hold?: (received: Received[]) => Promise<void>) {
  const received: Received[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    await hold?.(received);
    inFlight--;
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  const url = await listen(server);
  return { url, received, maxInFlight: () => maxInFlight };
}

async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "faultline-replay-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function metadata(type: string, eventId: string, extra: Partial<RecordedMetadata> = {}) {
  return {
    method: "POST",
    path: "/webhooks/stripe",
    headers: { "content-type": "application/json; charset=utf-8" },
    provider: "stripe",
    eventId,
    type,
    recordedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

/** `count` Stripe-like fixtures `evt_1`… in a fresh folder. */
async function stripeFixtures(count: number): Promise<string> {
  const dir = await tempDir();
  for (let i = 1; i <= count; i++) {
    const body = JSON.stringify({ id: `evt_${i}`, object: "event", type: "invoice.paid" });
    await writeFixturePair(dir, i, metadata("invoice.paid", `evt_${i}`), body);
  }
  return dir;
}

const ids = (received: Received[]) => received.map((r) => JSON.parse(r.body).id as string);

describe("importStripeEvents", () => {
  const event = (id: string, type: string, created: number, email: string) => ({
    id,
    object: "event",
    api_version: "2025-06-30.basil",
    created,
    data: { object: { id: `cus_${id}`, object: "customer", email, name: "Real Person" } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });

  it("writes a 3-event list as 3 fixture pairs, oldest first, that replay as valid Stripe webhooks", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "events.json");
    // Stripe lists newest first.
    const list = {
      object: "list",
      data: [
        event("evt_c", "customer.deleted", 1_790_000_300, "c@real.com"),
        event("evt_b", "customer.updated", 1_790_000_200, "b@real.com"),
        event("evt_a", "customer.created", 1_790_000_100, "a@real.com"),
      ],
      has_more: false,
      url: "/v1/events",
    };
    await writeFile(file, JSON.stringify(list));
    const outDir = path.join(dir, "fixtures");
    expect(await importStripeEvents(file, outDir)).toBe(3);
    expect((await readdir(outDir)).sort()).toEqual([
      "001-customer-created.body",
      "001-customer-created.json",
      "002-customer-updated.body",
      "002-customer-updated.json",
      "003-customer-deleted.body",
      "003-customer-deleted.json",
    ]);
    const meta = JSON.parse(await readFile(path.join(outDir, "001-customer-created.json"), "utf8"));
    expect(meta).toEqual({
      method: "POST",
      path: "/webhooks/stripe",
      headers: { "content-type": "application/json; charset=utf-8" },
      provider: "stripe",
      eventId: "evt_a",
      type: "customer.created",
      recordedAt: new Date(1_790_000_100_000).toISOString(),
    });
    const body = await readFile(path.join(outDir, "001-customer-created.body"), "utf8");
    expect(body).not.toContain("a@real.com");
    expect(body).not.toContain("Real Person");
    // Pretty-printed, and otherwise the event as exported.
    const scrubbed = JSON.parse(body);
    expect(body).toBe(JSON.stringify(scrubbed, null, 2));
    expect(scrubbed.data.object.email).toMatch(/^user-[0-9a-f]{8}@example\.com$/);
    expect({ ...scrubbed, data: {} }).toEqual({ ...list.data[2], data: {} });

    const service = await startService();
    const results = await replay({
      dir: outDir,
      to: service.url,
      provider: stripeProvider,
      secret: "whsec_import",
    });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(ids(service.received)).toEqual(["evt_a", "evt_b", "evt_c"]);
    for (const r of service.received) {
      const verified = new Stripe("sk_test_x").webhooks.constructEvent(
        r.body,
        r.headers["stripe-signature"] as string,
        "whsec_import",
      );
      expect(verified.object).toBe("event");
    }
  });

  it("keeps the data as exported with scrub: false, and numbers after existing fixtures", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "events.json");
    await writeFile(
      file,
      JSON.stringify({
        object: "list",
        data: [event("evt_x", "customer.created", 1, "x@real.com")],
      }),
    );
    const outDir = await stripeFixtures(2);
    expect(await importStripeEvents(file, outDir, { scrub: false })).toBe(1);
    expect(await readFile(path.join(outDir, "003-customer-created.body"), "utf8")).toContain(
      "x@real.com",
    );
  });

  it("rejects a file that is not an event list, naming the file and what it expected", async () => {
    const dir = await tempDir();
    const cases: [string, string, RegExp][] = [
      ["not-json.json", "{ nope", /not JSON.*Stripe event list/],
      [
        "an-event.json",
        JSON.stringify({ object: "event", id: "evt_1" }),
        /"object": expected "list", found "event"/,
      ],
      [
        "no-data.json",
        JSON.stringify({ object: "list", data: {} }),
        /"data": expected an array of events, found an object/,
      ],
      [
        "bad-item.json",
        JSON.stringify({ object: "list", data: [{ id: "evt_1", type: "a" }, 3] }),
        /data\[1\]: expected an event object, found 3/,
      ],
      [
        "no-type.json",
        JSON.stringify({ object: "list", data: [{ id: "evt_1" }] }),
        /data\[0\]\.type: expected the event's type, found undefined/,
      ],
      ["an-array.json", "[]", /expected a Stripe event list .* found an array/],
    ];
    for (const [name, text, message] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, text);
      const error = await importStripeEvents(file, path.join(dir, "out")).catch((e: Error) => e);
      expect(error, name).toBeInstanceOf(Error);
      expect((error as Error).message, name).toContain(file);
      expect((error as Error).message, name).toMatch(message);
    }
    const missing = path.join(dir, "missing.json");
    await expect(importStripeEvents(missing, path.join(dir, "out"))).rejects.toThrow(missing);
    // Nothing was written for any of them.
    expect(await readdir(dir)).not.toContain("out");
  });
});

describe("loadRecordedFixtures", () => {
  it("sorts by NNN and ignores other files", async () => {
    const dir = await tempDir();
    await writeFixturePair(dir, 1000, metadata("c", "evt_c"), "{}");
    await writeFixturePair(dir, 2, metadata("a", "evt_a"), "{}");
    await writeFixturePair(dir, 10, metadata("b", "evt_b"), "{}");
    await writeFile(path.join(dir, "README.md"), "notes");
    const fixtures = await loadRecordedFixtures(dir);
    expect(fixtures.map((f) => [f.name, f.sequence, f.metadata.eventId])).toEqual([
      ["002-a", 2, "evt_a"],
      ["010-b", 10, "evt_b"],
      ["1000-c", 1000, "evt_c"],
    ]);
  });

  it("names the file when metadata is missing, not JSON or invalid", async () => {
    const missing = await tempDir();
    await writeFile(path.join(missing, "001-x.body"), "{}");
    await expect(loadRecordedFixtures(missing)).rejects.toThrow(
      `${path.join(missing, "001-x.json")}: missing`,
    );
    const notJson = await tempDir();
    await writeFile(path.join(notJson, "001-x.body"), "{}");
    await writeFile(path.join(notJson, "001-x.json"), "{ method: POST");
    await expect(loadRecordedFixtures(notJson)).rejects.toThrow(
      `${path.join(notJson, "001-x.json")}: the fixture's metadata is not JSON`,
    );
    const invalid = await tempDir();
    await writeFile(path.join(invalid, "001-x.body"), "{}");
    await writeFile(path.join(invalid, "001-x.json"), JSON.stringify({ headers: { a: 1 } }));
    await expect(loadRecordedFixtures(invalid)).rejects.toThrow(
      `${path.join(invalid, "001-x.json")}: invalid fixture metadata: "headers.a": `,
    );
    const noBody = await tempDir();
    await writeFile(path.join(noBody, "001-x.json"), "{}");
    await expect(loadRecordedFixtures(noBody)).rejects.toThrow(
      `${path.join(noBody, "001-x.body")}: missing`,
    );
    await expect(loadRecordedFixtures(path.join(noBody, "nope"))).rejects.toThrow(
      `${path.join(noBody, "nope")}: cannot read the fixture folder`,
    );
  });
});

describe("replay", () => {
  it("reports status 0 with the error, without hanging, when nothing listens", async () => {
    const dir = await stripeFixtures(2);
    const started = Date.now();
    const results = await replay({
      dir,
      to: `http://127.0.0.1:${await deadPort()}`,
      provider: stripeProvider,
      secret: "whsec_x",
      timeoutMs: 2000,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.status).toBe(0);
      expect(r.error).toMatch(/ECONNREFUSED/);
    }
  });

  it("gives up on a service that never answers after timeoutMs", async () => {
    const dir = await stripeFixtures(1);
    const to = await listen(
      createServer(() => {
        // Never answers.
      }),
    );
    const started = Date.now();
    const [result] = await replay({
      dir,
      to,
      provider: stripeProvider,
      secret: "whsec_x",
      timeoutMs: 200,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result).toMatchObject({
      status: 0,
      error: "no response within 200 ms",
      eventId: "evt_1",
    });
  });

  it("shuffles reproducibly: the same seed sends the same order", async () => {
    const dir = await stripeFixtures(8);
    const orderFor = async (seed: number) => {
      const service = await startService();
      const results = await replay({
        dir,
        to: service.url,
        provider: stripeProvider,
        secret: "whsec_x",
        policy: "shuffled",
        seed,
      });
      expect(results.map((r) => r.eventId)).toEqual(ids(service.received));
      return ids(service.received);
    };
    const first = await orderFor(7);
    expect(await orderFor(7)).toEqual(first);
    expect([...first].sort()).toEqual([
      "evt_1",
      "evt_2",
      "evt_3",
      "evt_4",
      "evt_5",
      "evt_6",
      "evt_7",
      "evt_8",
    ]);
    expect(first).not.toEqual([
      "evt_1",
      "evt_2",
      "evt_3",
      "evt_4",
      "evt_5",
      "evt_6",
      "evt_7",
      "evt_8",
    ]);
    expect(await orderFor(8)).not.toEqual(first);
  });

  it("sends each fixture twice in a row with duplicated, each time signed validly", async () => {
    const dir = await stripeFixtures(2);
    const service = await startService();
    const results = await replay({
      dir,
      to: service.url,
      provider: stripeProvider,
      secret: "whsec_dup",
      policy: "duplicated",
    });
    expect(results.map((r) => [r.eventId, r.status, r.attempt])).toEqual([
      ["evt_1", 200, 1],
      ["evt_1", 200, 1],
      ["evt_2", 200, 1],
      ["evt_2", 200, 1],
    ]);
    expect(ids(service.received)).toEqual(["evt_1", "evt_1", "evt_2", "evt_2"]);
    for (const r of service.received) {
      new Stripe("sk_test_x").webhooks.constructEvent(
        r.body,
        r.headers["stripe-signature"] as string,
        "whsec_dup",
      );
    }
  });

  it("sends all at once with concurrent", async () => {
    const dir = await stripeFixtures(4);
    // Answer nobody until all four are in: sent one at a time, this would time out.
    let release: () => void = () => {};
    const allIn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const service = await startService(async (received) => {
      if (received.length === 4) release();
      await allIn;
    });
    const results = await replay({
      dir,
      to: service.url,
      provider: stripeProvider,
      secret: "whsec_x",
      policy: "concurrent",
      timeoutMs: 3000,
    });
    expect(results.map((r) => [r.eventId, r.status])).toEqual([
      ["evt_1", 200],
      ["evt_2", 200],
      ["evt_3", 200],
      ["evt_4", 200],
    ]);
    expect(service.maxInFlight()).toBe(4);
  });

  it("signs with the clock it is given, through the provider's own signing", async () => {
    const dir = await stripeFixtures(1);
    const service = await startService();
    const now = 1_790_000_000_123;
    await replay({
      dir,
      to: service.url,
      provider: stripeProvider,
      secret: "whsec_t",
      now: () => now,
    });
    const header = service.received[0]?.headers["stripe-signature"] as string;
    expect(header).toMatch(/^t=1790000000,v1=[0-9a-f]{64}/);
    // Stripe's verifier accepts it within its tolerance of that time.
    const stripe = new Stripe("sk_test_x");
    expect(() =>
      stripe.webhooks.constructEvent(service.received[0]?.body as string, header, "whsec_t", 1e9),
    ).not.toThrow();
  });

  it("re-signs Standard Webhooks and GitHub fixtures as those providers do", async () => {
    const dir = await tempDir();
    const standardBody = '{"type":"invoice.paid","data":{"id":"inv_1"}}';
    await writeFixturePair(
      dir,
      1,
      metadata("invoice.paid", "msg_recorded", {
        path: "/hooks/std",
        provider: "standard",
        headers: { "content-type": "application/json", "webhook-id": "msg_recorded" },
      }),
      standardBody,
    );
    const standardService = await startService();
    const secret = `whsec_${Buffer.from("0123456789abcdef0123").toString("base64")}`;
    const [standard] = await replay({
      dir,
      to: `${standardService.url}/`,
      provider: standardProvider,
      secret,
    });
    expect(standard?.status).toBe(200);
    const got = standardService.received[0] as Received;
    expect(got.url).toBe("/hooks/std");
    expect(got.headers["webhook-id"]).toBe("msg_recorded");
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toEqual(
      JSON.parse(standardBody),
    );

    const githubDir = await tempDir();
    const githubBody = '{"ref":"refs/heads/main","pusher":{"name":"octo"}}';
    await writeFixturePair(
      githubDir,
      1,
      metadata("push", "", { provider: "github", headers: { "x-github-event": "push" } }),
      githubBody,
    );
    const githubService = await startService();
    // A fixture without a path goes to the provider's.
    const meta = JSON.parse(await readFile(path.join(githubDir, "001-push.json"), "utf8"));
    delete meta.path;
    await writeFile(path.join(githubDir, "001-push.json"), JSON.stringify(meta));
    const [github] = await replay({
      dir: githubDir,
      to: githubService.url,
      provider: githubProvider,
      secret: "gh-secret",
    });
    expect(github?.status).toBe(200);
    const push = githubService.received[0] as Received;
    expect(push.url).toBe("/webhooks/github");
    expect(push.headers["x-github-event"]).toBe("push");
    expect(
      await verifyGithub("gh-secret", push.body, push.headers["x-hub-signature-256"] as string),
    ).toBe(true);
  });
});

describe("replay of stock fixtures", () => {
  const stripeSecret = "whsec_stock";

  it("fills the shipped Stripe templates from the seed: same seed, same bytes; each validly signed", async () => {
    const dir = path.join(FIXTURES_DIR, "stripe");
    const first = await startService();
    const results = await replay({
      dir,
      to: first.url,
      provider: stripeProvider,
      secret: stripeSecret,
      seed: 7,
    });
    const templates = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
    expect(templates.length).toBeGreaterThan(5);
    expect(results.map((r) => [path.basename(r.file), r.source, r.status])).toEqual(
      templates.map((f) => [f, "stock", 200]),
    );
    const stripe = new Stripe("sk_test_x");
    for (const got of first.received) {
      expect(got.url).toBe("/webhooks/stripe");
      expect(got.body).not.toContain("{{");
      const event = stripe.webhooks.constructEvent(
        got.body,
        got.headers["stripe-signature"] as string,
        stripeSecret,
      );
      expect(event.id).toMatch(/^evt_[0-9A-Za-z]{24}$/);
    }
    const checkout = JSON.parse(
      first.received[templates.indexOf("checkout.session.completed.json")]?.body as string,
    );
    expect(checkout.type).toBe("checkout.session.completed");
    expect(checkout.data.object.customer_email).toMatch(/^customer-[0-9a-z]{8}@example\.com$/);
    // From the fixed epoch, one step per template in file order: never the wall clock.
    expect(checkout.created).toBe(
      1_767_225_600 + 60 * templates.indexOf("checkout.session.completed.json"),
    );
    const created = first.received.map((r) => (JSON.parse(r.body) as { created: number }).created);
    for (let i = 1; i < created.length; i++)
      expect(created[i]).toBeGreaterThan(created[i - 1] as number);

    const again = await startService();
    await replay({ dir, to: again.url, provider: stripeProvider, secret: stripeSecret, seed: 7 });
    expect(again.received.map((r) => r.body)).toEqual(first.received.map((r) => r.body));
    const other = await startService();
    await replay({ dir, to: other.url, provider: stripeProvider, secret: stripeSecret, seed: 8 });
    expect(ids(other.received)).not.toEqual(ids(first.received));
  });

  it("fills every provider's shipped templates with nothing left unfilled", async () => {
    for (const [name, provider] of Object.entries(webhookProviders)) {
      const service = await startService();
      const secret =
        name === "standard"
          ? `whsec_${Buffer.from("stock-secret").toString("base64")}`
          : "stock-secret";
      const results = await replay({
        dir: path.join(FIXTURES_DIR, name),
        to: service.url,
        provider,
        secret,
        seed: 1,
      });
      expect(results.length, name).toBeGreaterThan(0);
      for (const r of results) expect([name, r.source, r.status]).toEqual([name, "stock", 200]);
      for (const got of service.received) {
        expect(got.url).toBe(provider.path);
        expect(got.body, name).not.toContain("{{");
      }
    }
  });

  it("sends a folder's recorded pairs, then its stock templates", async () => {
    const dir = await stripeFixtures(2);
    await writeFile(
      path.join(dir, "checkout.session.completed.json"),
      await readFile(path.join(FIXTURES_DIR, "stripe", "checkout.session.completed.json")),
    );
    await writeFile(path.join(dir, "README.md"), "notes");
    const service = await startService();
    const results = await replay({
      dir,
      to: service.url,
      provider: stripeProvider,
      secret: "whsec_m",
    });
    expect(results.map((r) => [path.basename(r.file), r.source, r.type])).toEqual([
      ["001-invoice-paid.body", "recorded", "invoice.paid"],
      ["002-invoice-paid.body", "recorded", "invoice.paid"],
      ["checkout.session.completed.json", "stock", "checkout.session.completed"],
    ]);
    expect(ids(service.received).slice(0, 2)).toEqual(["evt_1", "evt_2"]);
    expect(results[2]?.eventId).toBe(ids(service.received)[2]);
  });

  it("refuses a folder with nothing to send, saying what it looked for", async () => {
    const empty = await tempDir();
    const service = await startService();
    const options = { to: service.url, provider: stripeProvider, secret: "whsec_e" };
    await expect(replay({ dir: empty, ...options })).rejects.toThrow(
      `${empty}: nothing to replay: expected recorded fixtures (NNN-name.body + NNN-name.json pairs`,
    );
    await expect(replay({ dir: empty, ...options })).rejects.toThrow(
      "or stock templates (<event>.json, as in fixtures/webhooks/<provider>/); the folder is empty",
    );
    const notes = await tempDir();
    await writeFile(path.join(notes, "README.md"), "notes");
    await writeFile(path.join(notes, "event.txt"), "{}");
    await expect(replay({ dir: notes, ...options })).rejects.toThrow(
      "; found only README.md, event.txt",
    );
    expect(service.received).toEqual([]);
  });

  it("names the file and every variable nobody fills, and sends nothing", async () => {
    const dir = await stripeFixtures(1);
    const template = {
      id: "{{event_id}}",
      type: "order.created",
      ref: "{{order_ref}}",
      n: "{{qty}}",
    };
    await writeFile(path.join(dir, "order.created.json"), JSON.stringify(template));
    const service = await startService();
    await expect(
      replay({ dir, to: service.url, provider: stripeProvider, secret: "whsec_v" }),
    ).rejects.toThrow(
      `${path.join(dir, "order.created.json")}: no value for template variables {{order_ref}}, {{qty}}; the stripe provider fills event_id, object_id,`,
    );
    await writeFile(path.join(dir, "order.created.json"), "{ not json");
    await expect(
      replay({ dir, to: service.url, provider: stripeProvider, secret: "whsec_v" }),
    ).rejects.toThrow(
      `${path.join(dir, "order.created.json")}: cannot replay it: a stock fixture must be a JSON payload template`,
    );
    expect(service.received).toEqual([]);
  });
});
