import { createHmac } from "node:crypto";
import { verify as verifyGithub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { fixtureNames, loadFixture } from "./fixtures.ts";
import { githubProvider } from "./github-provider.ts";
import { webhookProviders } from "./index.ts";
import { lemonsqueezyProvider } from "./lemonsqueezy-provider.ts";
import { paddleProvider } from "./paddle-provider.ts";
import type { SignContext, WebhookProvider } from "./provider.ts";
import { shopifyProvider, shopifyTopic } from "./shopify-provider.ts";
import { standardProvider } from "./standard-provider.ts";
import { stripeProvider } from "./stripe-provider.ts";
import { fillTemplate, templateVariables } from "./template.ts";

const NOW = 1_790_000_000;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A fixture rendered with its provider's defaults, serialized as the runner sends it. */
async function render(provider: WebhookProvider, fixture: string, seed = 7) {
  const values = provider.defaults(fixture, seededRandom(seed), NOW);
  const template = await loadFixture(provider.name, fixture);
  const body = fillTemplate(template, values, `${provider.name}/${fixture}`);
  return { values, body, payload: JSON.stringify(body, null, 2) };
}

const context = (fixture: string): SignContext => ({ fixture, eventId: "", type: "" });

/*
 * Fixed vectors, derived by hand in a shell with OpenSSL rather than by the code under test:
 *
 *   S='faultline-vector-secret'; B='{"id":"evt_1","amount":1000,"note":"café"}'  # UTF-8 é
 *   printf '%s' "$B" | openssl dgst -sha256 -hmac "$S" -binary | base64          # Shopify
 *   printf '%s' "$B" | openssl dgst -sha256 -hmac "$S" -r                        # hex: GitHub, Lemon Squeezy
 *   printf '%s' "$B" | openssl dgst -sha1 -hmac "$S" -r                          # GitHub's legacy sha1
 *   printf '%s' "1700000000:$B" | openssl dgst -sha256 -hmac "$S" -r             # Paddle (ts:body)
 *   K=$(python3 -c 'print(bytes(range(24)).hex())')                              # Standard Webhooks key
 *   printf '%s' "msg_vector.1700000000.$B" \
 *     | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K -binary | base64        # whsec_ = base64(K)
 */
const VECTOR = {
  secret: "faultline-vector-secret",
  body: '{"id":"evt_1","amount":1000,"note":"café"}',
  timestamp: 1_700_000_000,
  shopify: "RV4GbZFjFNxIaezqFS1gWBnU4xFTuj2zGQQesLlEyBY=",
  hex: "455e066d916314dc4869ecea152d605819d4e31153ba3db319041eb0b944c816",
  sha1: "dcc3add83fdb11a9b6bee7d343ee35b97a10a1ca",
  paddle: "f2a2ab39cdddd111f7f3d2cf77f949650083c5245a6a167217e0d8d0aff56ff9",
  standardSecret: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
  standard: "v1,DaCfo0x+B43SV7u2cXrG+siEg5qHqP+KpeSDBUJJI/o=",
};

describe("every provider", () => {
  it("registers the six providers under their names", () => {
    expect(Object.keys(webhookProviders).sort()).toEqual([
      "github",
      "lemonsqueezy",
      "paddle",
      "shopify",
      "standard",
      "stripe",
    ]);
    for (const [name, provider] of Object.entries(webhookProviders)) {
      expect(provider.name).toBe(name);
      expect(provider.path).toBe(`/webhooks/${name}`);
    }
  });

  it("fills every fixture from its defaults alone, leaving no {{ behind", async () => {
    for (const provider of Object.values(webhookProviders)) {
      const fixtures = await fixtureNames(provider.name);
      expect(fixtures.length, provider.name).toBeGreaterThan(0);
      for (const fixture of fixtures) {
        const template = await loadFixture(provider.name, fixture);
        const values = provider.defaults(fixture, seededRandom(1), NOW);
        for (const variable of templateVariables(template)) {
          expect(values, `${provider.name}/${fixture}: {{${variable}}}`).toHaveProperty(variable);
        }
        const { payload } = await render(provider, fixture);
        expect(payload, `${provider.name}/${fixture}`).not.toContain("{{");
        expect(payload, `${provider.name}/${fixture}`).not.toContain("}}");
      }
    }
  });

  it("draws the same defaults and secrets from the same seed", () => {
    for (const provider of Object.values(webhookProviders)) {
      expect(provider.defaults("x.y", seededRandom(3), NOW)).toEqual(
        provider.defaults("x.y", seededRandom(3), NOW),
      );
      expect(provider.newSecret(seededRandom(3))).toBe(provider.newSecret(seededRandom(3)));
      expect(provider.newSecret(seededRandom(3))).not.toBe(provider.newSecret(seededRandom(4)));
    }
  });
});

describe("stripe", () => {
  const client = new Stripe("sk_test_x");
  const prefixes: Record<string, RegExp> = {
    "charge.refunded": /^ch_/,
    "checkout.session.completed": /^cs_test_/,
    "customer.created": /^cus_/,
    "customer.subscription.created": /^sub_/,
    "customer.subscription.deleted": /^sub_/,
    "customer.subscription.updated": /^sub_/,
    "invoice.paid": /^in_/,
    "invoice.payment_failed": /^in_/,
  };

  it("signs every fixture so that Stripe's constructEvent accepts it", async () => {
    const fixtures = await fixtureNames("stripe");
    expect(fixtures.sort()).toEqual(Object.keys(prefixes).sort());
    for (const fixture of fixtures) {
      const { payload } = await render(stripeProvider, fixture);
      const secret = stripeProvider.newSecret(seededRandom(9));
      const headers = stripeProvider.sign(payload, secret, nowSeconds());
      const event = client.webhooks.constructEvent(payload, headers["stripe-signature"], secret);
      expect(event.type).toBe(fixture);
      expect(event.id).toMatch(/^evt_[0-9A-Za-z]{24}$/);
      expect((event.data.object as { id: string }).id).toMatch(prefixes[fixture] as RegExp);
    }
  });

  it("links the billing objects to each other", async () => {
    const invoice = (await render(stripeProvider, "invoice.paid")).body as {
      data: { object: Stripe.Invoice };
    };
    const line = invoice.data.object.lines.data[0] as Stripe.InvoiceLineItem;
    expect(line.invoice).toBe(invoice.data.object.id);
    expect(line.amount).toBe(1000);
    expect(invoice.data.object.amount_paid).toBe(1000);
    expect(invoice.data.object.parent?.subscription_details?.subscription).toMatch(/^sub_/);

    const subscription = (await render(stripeProvider, "customer.subscription.created")).body as {
      data: { object: Stripe.Subscription };
    };
    const item = subscription.data.object.items.data[0] as Stripe.SubscriptionItem;
    expect(item.subscription).toBe(subscription.data.object.id);
    expect(item.price.unit_amount).toBe(1000);
    expect(item.price.unit_amount_decimal).toBe("1000");
    expect(subscription.data.object.latest_invoice).toMatch(/^in_/);
  });

  it("rejects a signature made with another secret", async () => {
    const { payload } = await render(stripeProvider, "invoice.payment_failed");
    const headers = stripeProvider.sign(payload, "whsec_one", nowSeconds());
    expect(() =>
      client.webhooks.constructEvent(payload, headers["stripe-signature"], "whsec_two"),
    ).toThrow();
  });

  it("draws for the original fixtures exactly what it drew before", () => {
    // The run's random stream is shared with faults, so these must not grow.
    const original = [
      "amount_total",
      "created",
      "credits",
      "customer",
      "email",
      "event_id",
      "expires_at",
      "name",
      "object_id",
      "payment_intent",
    ];
    for (const fixture of ["checkout.session.completed", "customer.created"]) {
      expect(Object.keys(stripeProvider.defaults(fixture, seededRandom(1), NOW)).sort()).toEqual(
        original,
      );
    }
  });
});

describe("standard webhooks", () => {
  it("signs invoice.paid so that the standardwebhooks verifier accepts it", async () => {
    const { payload } = await render(standardProvider, "invoice.paid");
    const secret = standardProvider.newSecret(seededRandom(5));
    const headers = standardProvider.sign(payload, secret, nowSeconds());
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
    expect(headers["webhook-id"]).toMatch(/^msg_[0-9A-Za-z]{27}$/);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it("makes whsec_ secrets of 24 random bytes", () => {
    const secret = standardProvider.newSecret(seededRandom(5));
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(secret.slice("whsec_".length), "base64")).toHaveLength(24);
  });

  it("uses the payload's own id as the webhook-id, else one derived from the bytes", async () => {
    const withId = JSON.stringify({ id: "evt_abc", type: "invoice.paid", data: {} });
    expect(standardProvider.sign(withId, VECTOR.standardSecret, 1)["webhook-id"]).toBe("evt_abc");
    const { payload } = await render(standardProvider, "invoice.paid");
    const first = standardProvider.sign(payload, VECTOR.standardSecret, 1)["webhook-id"];
    // A redelivery of the same bytes keeps its id; other bytes get another.
    expect(standardProvider.sign(payload, VECTOR.standardSecret, 2)["webhook-id"]).toBe(first);
    expect(standardProvider.sign(`${payload} `, VECTOR.standardSecret, 1)["webhook-id"]).not.toBe(
      first,
    );
  });

  it("matches the hand-derived vector", () => {
    const headers = standardProvider.sign(
      JSON.stringify({ id: "msg_vector" }),
      VECTOR.standardSecret,
      VECTOR.timestamp,
    );
    expect(headers["webhook-id"]).toBe("msg_vector");
    const vector = new Webhook(VECTOR.standardSecret).sign(
      "msg_vector",
      new Date(VECTOR.timestamp * 1000),
      VECTOR.body,
    );
    expect(vector).toBe(VECTOR.standard);
  });

  it("fails verification with another secret", async () => {
    const { payload } = await render(standardProvider, "invoice.paid");
    const headers = standardProvider.sign(
      payload,
      standardProvider.newSecret(seededRandom(1)),
      nowSeconds(),
    );
    const other = new Webhook(standardProvider.newSecret(seededRandom(2)));
    expect(() => other.verify(payload, headers)).toThrow("No matching signature found");
  });
});

describe("github", () => {
  it("signs push so that @octokit/webhooks-methods verifies it", async () => {
    const { payload, values } = await render(githubProvider, "push");
    const secret = githubProvider.newSecret(seededRandom(5));
    const headers = await githubProvider.sign(payload, secret, nowSeconds(), context("push"));
    expect(await verifyGithub(secret, payload, headers["x-hub-signature-256"])).toBe(true);
    expect(headers["x-hub-signature"]).toBe(
      `sha1=${createHmac("sha1", secret).update(payload).digest("hex")}`,
    );
    expect(headers["x-github-event"]).toBe("push");
    expect(headers["x-github-delivery"]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const body = JSON.parse(payload) as { after: string; head_commit: { id: string } };
    expect(body.head_commit.id).toBe(values.after);
    expect(secret).toMatch(/^[0-9a-f]{40}$/);
  });

  it("names the event from the fixture, or from a push payload without one", async () => {
    const { payload } = await render(githubProvider, "push");
    const pr = JSON.stringify({ action: "opened", number: 1 });
    expect(
      (await githubProvider.sign(pr, "s", 1, context("pull_request.opened")))["x-github-event"],
    ).toBe("pull_request");
    expect((await githubProvider.sign(payload, "s", 1))["x-github-event"]).toBe("push");
    await expect(githubProvider.sign(pr, "s", 1)).rejects.toThrow("X-GitHub-Event");
  });

  it("matches the hand-derived vector", async () => {
    const headers = await githubProvider.sign(VECTOR.body, VECTOR.secret, 1, context("push"));
    expect(headers["x-hub-signature-256"]).toBe(`sha256=${VECTOR.hex}`);
    expect(headers["x-hub-signature"]).toBe(`sha1=${VECTOR.sha1}`);
  });

  it("fails verification with another secret", async () => {
    const { payload } = await render(githubProvider, "push");
    const headers = await githubProvider.sign(payload, "right", nowSeconds(), context("push"));
    expect(await verifyGithub("wrong", payload, headers["x-hub-signature-256"])).toBe(false);
  });
});

describe("shopify", () => {
  it("signs orders-paid with base64 HMAC-SHA256 of the raw body and names topic and shop", async () => {
    const { payload, values } = await render(shopifyProvider, "orders-paid");
    const secret = shopifyProvider.newSecret(seededRandom(5));
    const headers = shopifyProvider.sign(payload, secret, NOW, context("orders-paid"));
    const expected = createHmac("sha256", Buffer.from(secret, "utf8"))
      .update(Buffer.from(payload, "utf8"))
      .digest("base64");
    expect(headers["x-shopify-hmac-sha256"]).toBe(expected);
    expect(headers["x-shopify-topic"]).toBe("orders/paid");
    expect(headers["x-shopify-shop-domain"]).toBe(values.shop_domain);
    expect(headers["x-shopify-api-version"]).toMatch(/^\d{4}-\d{2}$/);
    expect(headers["x-shopify-webhook-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers["x-shopify-triggered-at"]).toBe(new Date(NOW * 1000).toISOString());
    expect(secret).toMatch(/^shpss_[0-9a-f]{32}$/);
    const order = JSON.parse(payload) as { id: number; financial_status: string };
    expect(order.id).toBe(values.order_id);
    expect(order.financial_status).toBe("paid");
  });

  it("reads the shop from the payload, so an overridden shop_domain is what the header says", async () => {
    const template = await loadFixture("shopify", "orders-paid");
    const values = {
      ...shopifyProvider.defaults("orders-paid", seededRandom(1), NOW),
      shop_domain: "other.myshopify.com",
    };
    const payload = JSON.stringify(fillTemplate(template, values, "shopify/orders-paid"));
    const headers = shopifyProvider.sign(payload, "s", NOW, context("orders-paid"));
    expect(headers["x-shopify-shop-domain"]).toBe("other.myshopify.com");
  });

  it("maps fixture names to topics", () => {
    expect(shopifyTopic("orders-paid")).toBe("orders/paid");
    expect(shopifyTopic("customers-data_request")).toBe("customers/data_request");
    expect(() => shopifyProvider.sign("{}", "s", 1)).toThrow("X-Shopify-Topic");
  });

  it("matches the hand-derived vector, and differs with another secret", () => {
    const sign = (secret: string) =>
      shopifyProvider.sign(VECTOR.body, secret, 1, context("orders-paid"))["x-shopify-hmac-sha256"];
    expect(sign(VECTOR.secret)).toBe(VECTOR.shopify);
    expect(sign(`${VECTOR.secret}x`)).not.toBe(VECTOR.shopify);
  });
});

describe("paddle", () => {
  /** Paddle's published rule: h1 = hex HMAC-SHA256 of `<ts>:<raw body>` with the secret key. */
  const check = (header: string, payload: string, secret: string) => {
    const fields = Object.fromEntries(header.split(";").map((kv) => kv.split("=", 2)));
    const expected = createHmac("sha256", secret).update(`${fields.ts}:${payload}`).digest("hex");
    return fields.h1 === expected;
  };

  it("signs transaction.completed as ts=…;h1=… over ts:body", async () => {
    const { payload } = await render(paddleProvider, "transaction.completed");
    const secret = paddleProvider.newSecret(seededRandom(5));
    const header = paddleProvider.sign(payload, secret, NOW)["paddle-signature"];
    expect(header).toMatch(new RegExp(`^ts=${NOW};h1=[0-9a-f]{64}$`));
    expect(check(header, payload, secret)).toBe(true);
    expect(check(header, payload, `${secret}x`)).toBe(false);
    expect(secret).toMatch(/^pdl_ntfset_01[0-9a-hjkmnp-tv-z]{24}_[0-9A-Za-z]{32}$/);
    const event = JSON.parse(payload) as {
      event_id: string;
      notification_id: string;
      event_type: string;
      data: { id: string; status: string };
    };
    expect(event.event_id).toMatch(/^evt_01[0-9a-z]{24}$/);
    expect(event.notification_id).toMatch(/^ntf_01[0-9a-z]{24}$/);
    expect(event.event_type).toBe("transaction.completed");
    expect(event.data.id).toMatch(/^txn_01/);
    expect(event.data.status).toBe("completed");
  });

  it("matches the hand-derived vector", () => {
    expect(
      paddleProvider.sign(VECTOR.body, VECTOR.secret, VECTOR.timestamp)["paddle-signature"],
    ).toBe(`ts=${VECTOR.timestamp};h1=${VECTOR.paddle}`);
  });
});

describe("lemon squeezy", () => {
  it("signs order_created with hex HMAC-SHA256 of the body and names the event", async () => {
    const { payload } = await render(lemonsqueezyProvider, "order_created");
    const secret = lemonsqueezyProvider.newSecret(seededRandom(5));
    const headers = lemonsqueezyProvider.sign(payload, secret, NOW);
    expect(headers["x-signature"]).toBe(createHmac("sha256", secret).update(payload).digest("hex"));
    expect(headers["x-signature"]).not.toBe(
      createHmac("sha256", `${secret}x`).update(payload).digest("hex"),
    );
    expect(headers["x-event-name"]).toBe("order_created");
    const event = JSON.parse(payload) as {
      data: { type: string; id: unknown; attributes: { first_order_item: { order_id: unknown } } };
    };
    expect(event.data.type).toBe("orders");
    expect(typeof event.data.id).toBe("string");
    expect(event.data.attributes.first_order_item.order_id).toBe(Number(event.data.id));
  });

  it("falls back to the fixture for the event name", () => {
    expect(lemonsqueezyProvider.sign("{}", "s", 1, context("order_refunded"))["x-event-name"]).toBe(
      "order_refunded",
    );
  });

  it("matches the hand-derived vector", () => {
    const headers = lemonsqueezyProvider.sign(VECTOR.body, VECTOR.secret, 1, context("x"));
    expect(headers["x-signature"]).toBe(VECTOR.hex);
  });
});
