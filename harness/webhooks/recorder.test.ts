import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import Stripe from "stripe";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { githubProvider } from "./github-provider.ts";
import { startRecorder } from "./recorder.ts";
import { loadRecordedFixtures, replay } from "./replay.ts";
import { stripeProvider } from "./stripe-provider.ts";

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A real HTTP server that keeps every request it gets and answers 200 (or as told). */
async function startService(
  answer: (r: Received) => { status: number; body: string } = () => ({
    status: 200,
    body: '{"received":true}',
  }),
) {
  const received: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const r = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    received.push(r);
    const { status, body } = answer(r);
    res.writeHead(status, { "content-type": "application/json", "x-service": "yes" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  cleanups.push(stop);
  return { url: `http://127.0.0.1:${port}`, received, stop };
}

/** A port that nothing listens on (listened on, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "faultline-recorder-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function stripeEvent(id: string, type: string, object: Record<string, unknown>): string {
  return JSON.stringify({
    id,
    object: "event",
    api_version: "2025-06-30.basil",
    created: 1_790_000_000,
    data: { object },
    livemode: false,
    type,
  });
}

const SERVICE_SECRET = "whsec_the_live_endpoint_secret";
const REPLAY_SECRET = "whsec_a_fresh_secret_for_the_replay";

describe("startRecorder", () => {
  it("records three Stripe webhooks through a real service, and replay re-signs them validly", async () => {
    const service = await startService();
    const outDir = await tempDir();
    const recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward: service.url,
      outDir,
    });
    cleanups.push(() => recorder.stop());
    const bodies = [
      stripeEvent("evt_1", "checkout.session.completed", {
        id: "cs_test_1",
        object: "checkout.session",
        customer_details: { email: "ann.lee@realmail.com", name: "Ann Lee", phone: null },
        amount_total: 1000,
      }),
      stripeEvent("evt_2", "invoice.paid", { id: "in_2", object: "invoice", amount_paid: 1000 }),
      stripeEvent("evt_3", "customer.subscription.deleted", {
        id: "sub_3",
        object: "subscription",
      }),
    ];
    for (const body of bodies) {
      const signature = stripeProvider.sign(body, SERVICE_SECRET, Math.floor(Date.now() / 1000));
      const response = await request(`http://127.0.0.1:${recorder.port}/webhooks/stripe?src=rec`, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          ...signature,
        },
        body,
      });
      // The caller gets the service's own answer.
      expect(response.statusCode).toBe(200);
      expect(response.headers["x-service"]).toBe("yes");
      expect(await response.body.text()).toBe('{"received":true}');
    }
    expect(recorder.recorded()).toBe(3);
    await recorder.stop();

    // The service got each request as sent: same bytes, same (valid) signature, same path.
    expect(service.received.map((r) => r.body.toString())).toEqual(bodies);
    for (const r of service.received) {
      expect(r.url).toBe("/webhooks/stripe?src=rec");
      const event = new Stripe("sk_test_x").webhooks.constructEvent(
        r.body,
        r.headers["stripe-signature"] as string,
        SERVICE_SECRET,
      );
      expect(event.id).toMatch(/^evt_/);
    }

    expect((await readdir(outDir)).sort()).toEqual([
      "001-checkout-session-completed.body",
      "001-checkout-session-completed.json",
      "002-invoice-paid.body",
      "002-invoice-paid.json",
      "003-customer-subscription-deleted.body",
      "003-customer-subscription-deleted.json",
    ]);
    const metadata = JSON.parse(
      await readFile(path.join(outDir, "001-checkout-session-completed.json"), "utf8"),
    );
    expect(metadata).toMatchObject({
      method: "POST",
      path: "/webhooks/stripe?src=rec",
      provider: "stripe",
      eventId: "evt_1",
      type: "checkout.session.completed",
    });
    expect(new Date(metadata.recordedAt).getTime()).not.toBeNaN();
    expect(metadata.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(metadata.headers["user-agent"]).toMatch(/^Stripe\/1\.0/);
    expect(metadata.headers).not.toHaveProperty("stripe-signature");
    expect(metadata.headers).not.toHaveProperty("host");
    expect(metadata.headers).not.toHaveProperty("content-length");
    expect(metadata.headers).not.toHaveProperty("connection");

    // Saved bodies: the scrubbed one lost its email and name, the others are byte for byte.
    const fixtures = await loadRecordedFixtures(outDir);
    expect(fixtures.map((f) => f.body.includes("ann.lee@realmail.com"))).toEqual([
      false,
      false,
      false,
    ]);
    expect(fixtures[0]?.body).not.toContain("Ann Lee");
    expect(fixtures[0]?.body).toMatch(/"email":"user-[0-9a-f]{8}@example\.com"/);
    expect(fixtures.slice(1).map((f) => f.body)).toEqual(bodies.slice(1));

    // Replay to a fresh service that knows only the replay's secret.
    const fresh = await startService();
    const results = await replay({
      dir: outDir,
      to: fresh.url,
      provider: stripeProvider,
      secret: REPLAY_SECRET,
    });
    expect(results.map((r) => [path.basename(r.file), r.eventId, r.type, r.status])).toEqual([
      ["001-checkout-session-completed.body", "evt_1", "checkout.session.completed", 200],
      ["002-invoice-paid.body", "evt_2", "invoice.paid", 200],
      ["003-customer-subscription-deleted.body", "evt_3", "customer.subscription.deleted", 200],
    ]);
    expect(results.every((r) => r.attempt === 1 && r.error === undefined)).toBe(true);
    expect(fresh.received.map((r) => r.body.toString())).toEqual(fixtures.map((f) => f.body));
    const stripe = new Stripe("sk_test_x");
    for (const [i, r] of fresh.received.entries()) {
      expect(r.url).toBe("/webhooks/stripe?src=rec");
      expect(r.headers["user-agent"]).toMatch(/^Stripe\/1\.0/);
      const header = r.headers["stripe-signature"] as string;
      // Signed afresh, not the recorded signature.
      expect(header).not.toBe(service.received[i]?.headers["stripe-signature"]);
      const event = stripe.webhooks.constructEvent(r.body, header, REPLAY_SECRET);
      expect(event.id).toBe(`evt_${i + 1}`);
      expect(() => stripe.webhooks.constructEvent(r.body, header, SERVICE_SECRET)).toThrow();
    }
  });

  it("answers 502 when the service refuses the connection, and still saves the fixture", async () => {
    const outDir = await tempDir();
    const forward = `http://127.0.0.1:${await deadPort()}`;
    await using recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward,
      outDir,
    });
    const body = stripeEvent("evt_refused", "invoice.paid", { id: "in_1", object: "invoice" });
    const response = await request(`http://127.0.0.1:${recorder.port}/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=abc" },
      body,
    });
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).toContain(`could not reach ${forward}`);
    expect(recorder.recorded()).toBe(1);
    expect(await readFile(path.join(outDir, "001-invoice-paid.body"), "utf8")).toBe(body);
    const metadata = JSON.parse(await readFile(path.join(outDir, "001-invoice-paid.json"), "utf8"));
    expect(metadata).toMatchObject({ eventId: "evt_refused", provider: "stripe" });
  });

  it("answers 504 when the service does not answer in time", async () => {
    const outDir = await tempDir();
    const silent = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          silent.close(() => resolve());
          silent.closeAllConnections();
        }),
    );
    const { port } = silent.address() as AddressInfo;
    await using recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward: `http://127.0.0.1:${port}`,
      outDir,
      timeoutMs: 300,
    });
    const started = Date.now();
    const response = await request(`http://127.0.0.1:${recorder.port}/hook`, {
      method: "POST",
      body: "{}",
    });
    expect(response.statusCode).toBe(504);
    expect(await response.body.text()).toContain("did not answer within 300 ms");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(recorder.recorded()).toBe(1);
  });

  it("scrubs emails out of every fixture file, bodies and headers alike", async () => {
    const service = await startService();
    const outDir = await tempDir();
    await using recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward: service.url,
      outDir,
    });
    const emails = ["zoe@private.net", "yann.b@corp.example.org", "x+tag@mail.co"];
    const body = JSON.stringify({
      id: "evt_pii",
      type: "customer.updated",
      data: {
        object: {
          email: emails[0],
          name: "Zoe Q",
          description: `also ${emails[1]}`,
          invoice_settings: { footer: `contact ${emails[2]}` },
        },
      },
    });
    const response = await request(`http://127.0.0.1:${recorder.port}/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", from: emails[1] as string },
      body,
    });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    // The service saw the real data; only the fixture is scrubbed.
    expect(service.received[0]?.body.toString()).toBe(body);
    const files = await readdir(outDir);
    expect(files).toHaveLength(2);
    for (const file of files) {
      const text = await readFile(path.join(outDir, file), "utf8");
      for (const email of emails) expect(text, file).not.toContain(email);
      expect(text).not.toContain("Zoe Q");
    }
    const metadata = JSON.parse(
      await readFile(path.join(outDir, "001-customer-updated.json"), "utf8"),
    );
    expect(metadata.headers.from).toMatch(/^user-[0-9a-f]{8}@example\.com$/);
  });

  it("keeps the body byte for byte with scrub: false", async () => {
    const service = await startService();
    const outDir = await tempDir();
    await using recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward: service.url,
      outDir,
      scrub: false,
    });
    const body = Buffer.from('{ "type":"a.b", "email": "keep@me.com", "name": "Ké Ø" }\n');
    const response = await request(`http://127.0.0.1:${recorder.port}/in`, {
      method: "POST",
      body,
    });
    await response.body.text();
    expect((await readFile(path.join(outDir, "001-a-b.body"))).equals(body)).toBe(true);
  });

  it("names GitHub deliveries by their X-GitHub-Event and numbers after what the folder holds", async () => {
    const service = await startService(() => ({ status: 202, body: "" }));
    const outDir = await tempDir();
    await writeFile(path.join(outDir, "041-older.body"), "{}");
    await writeFile(path.join(outDir, "041-older.json"), "{}");
    await using recorder = await startRecorder({
      listen: { host: "127.0.0.1", port: 0 },
      forward: `${service.url}/`,
      outDir,
    });
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 7 });
    const headers = await githubProvider.sign(body, "gh-secret", 0, {
      fixture: "ping",
      eventId: "",
      type: "ping",
    });
    const response = await request(`http://127.0.0.1:${recorder.port}/webhooks/github`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    expect(response.statusCode).toBe(202);
    await response.body.text();
    expect(service.received[0]?.url).toBe("/webhooks/github");
    const metadata = JSON.parse(await readFile(path.join(outDir, "042-ping.json"), "utf8"));
    expect(metadata).toMatchObject({ provider: "github", type: "ping", eventId: null });
    expect(metadata.headers["x-github-event"]).toBe("ping");
    expect(metadata.headers["x-github-delivery"]).toBe(headers["x-github-delivery"]);
    expect(metadata.headers).not.toHaveProperty("x-hub-signature-256");
    expect(metadata.headers).not.toHaveProperty("x-hub-signature");
  });
});
