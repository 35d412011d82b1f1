import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { verify as verifyGithub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { deliver, type PreparedWebhook } from "./delivery.ts";
import { loadFixture } from "./fixtures.ts";
import { webhookProviders } from "./index.ts";
import { fillTemplate } from "./template.ts";

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

// A receiver on loopback that records each request and answers 200.
const received: Received[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    received.push({
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    res.end("ok");
  });
});
let baseUrl = "";

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

async function prepare(providerName: string, fixture: string): Promise<PreparedWebhook> {
  const provider = webhookProviders[providerName];
  if (!provider) throw new Error(`no provider ${providerName}`);
  const values = provider.defaults(fixture, seededRandom(11), 1_790_000_000);
  const body = fillTemplate(await loadFixture(providerName, fixture), values, fixture);
  return {
    label: fixture,
    provider,
    eventId: "",
    type: "",
    fixture,
    payload: JSON.stringify(body, null, 2),
  };
}

describe("deliver with the new providers", () => {
  it("awaits an async signer and passes the fixture to it (github)", async () => {
    const webhook = await prepare("github", "push");
    const delivery = await deliver(baseUrl, 0, webhook, "gh-secret", Date.now);
    expect(delivery.status).toBe(200);
    const request = received.at(-1) as Received;
    expect(request.url).toBe("/webhooks/github");
    expect(request.body).toBe(webhook.payload);
    expect(request.headers["x-github-event"]).toBe("push");
    expect(request.headers["user-agent"]).toBe("GitHub-Hookshot/faultline");
    expect(
      await verifyGithub(
        "gh-secret",
        request.body,
        request.headers["x-hub-signature-256"] as string,
      ),
    ).toBe(true);
  });

  it("names the Shopify topic from the fixture it was rendered from", async () => {
    const webhook = await prepare("shopify", "orders-paid");
    const delivery = await deliver(baseUrl, 1, webhook, "shpss_x", Date.now);
    expect(delivery.status).toBe(200);
    const request = received.at(-1) as Received;
    expect(request.url).toBe("/webhooks/shopify");
    expect(request.headers["x-shopify-topic"]).toBe("orders/paid");
  });
});
