import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { loadFixture } from "./fixtures.ts";
import { stripeProvider } from "./stripe-provider.ts";
import { fillTemplate } from "./template.ts";

describe("stripe provider", () => {
  it("fills a recorded checkout.session.completed that Stripe's own verifier accepts", async () => {
    const random = seededRandom(42);
    const now = 1_790_000_000;
    const template = await loadFixture("stripe", "checkout.session.completed");
    const values = {
      ...stripeProvider.defaults("checkout.session.completed", random, now),
      email: "a@example.com",
      credits: "250",
    };
    const payload = JSON.stringify(fillTemplate(template, values, "checkout.session.completed"));
    const secret = stripeProvider.newSecret(random);
    const headers = stripeProvider.sign(payload, secret, Math.floor(Date.now() / 1000));
    const event = new Stripe("sk_test_x").webhooks.constructEvent(
      payload,
      headers["stripe-signature"] as string,
      secret,
    );
    expect(event.id).toMatch(/^evt_[0-9A-Za-z]{24}$/);
    expect(event.object).toBe("event");
    expect(event.type).toBe("checkout.session.completed");
    const session = event.data.object as Stripe.Checkout.Session;
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.customer_details?.email).toBe("a@example.com");
    expect(session.metadata?.credits).toBe("250");
    expect(session.amount_total).toBe(1000);
  });

  it("a signature made with another secret is rejected", async () => {
    const headers = stripeProvider.sign("{}", "whsec_one", Math.floor(Date.now() / 1000));
    expect(() =>
      new Stripe("sk_test_x").webhooks.constructEvent(
        "{}",
        headers["stripe-signature"] as string,
        "whsec_two",
      ),
    ).toThrow();
  });

  it("signs exactly as the library's generateTestHeaderString does", () => {
    for (const [payload, secret, timestamp] of [
      ["{}", "whsec_one", 1_790_000_000],
      ['{"note":"ünïcødé ✓"}', "whsec_K3y", 1],
    ] as const) {
      expect(stripeProvider.sign(payload, secret, timestamp)["stripe-signature"]).toBe(
        Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }),
      );
    }
  });

  it("draws the same ids from the same seed", () => {
    const a = stripeProvider.defaults("checkout.session.completed", seededRandom(3), 0);
    const b = stripeProvider.defaults("checkout.session.completed", seededRandom(3), 0);
    expect(a).toEqual(b);
  });
});
