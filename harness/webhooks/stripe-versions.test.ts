import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { loadFixture } from "./fixtures.ts";
import { renderFixture } from "./render.ts";
import { stripeProvider } from "./stripe-provider.ts";
import { STRIPE_TEMPLATE_VERSION, stripeTemplateAt } from "./stripe-versions.ts";

// biome-ignore lint/suspicious/noExplicitAny: payloads are read field by field in the assertions
type Json = Record<string, any>;

async function render(fixture: string, version?: "2024-06-20"): Promise<Json> {
  const template = await loadFixture("stripe", fixture);
  const shaped = version ? stripeTemplateAt(template, version) : template;
  const rendered = renderFixture(shaped, {
    provider: stripeProvider,
    fixture,
    random: seededRandom(7),
    nowSeconds: 1_767_225_600,
    where: fixture,
  });
  return JSON.parse(rendered.payload) as Json;
}

describe("Stripe API versions: the basil templates in 2024-06-20's shape", () => {
  it("puts an invoice's subscription and payment back at the top, as before basil", async () => {
    const basil = await render("invoice.paid");
    const old = await render("invoice.paid", "2024-06-20");
    expect(basil.api_version).toBe(STRIPE_TEMPLATE_VERSION);
    expect(basil.data.object.subscription).toBeUndefined();
    expect(old.api_version).toBe("2024-06-20");
    const invoice = old.data.object;
    expect(invoice.subscription).toBe(basil.data.object.parent.subscription_details.subscription);
    expect(invoice.subscription).toMatch(/^sub_/);
    expect(invoice.parent).toBeUndefined();
    expect(invoice.paid).toBe(true);
    expect(invoice.charge).toMatch(/^ch_/);
    expect(invoice.payment_intent).toMatch(/^pi_/);
    const line = invoice.lines.data[0];
    expect(line.type).toBe("subscription");
    expect(line.subscription).toBe(invoice.subscription);
    expect(line.subscription_item).toMatch(/^si_/);
    expect(line.price.id).toMatch(/^price_/);
    expect(line.parent).toBeUndefined();
    expect(line.pricing).toBeUndefined();
    // Only the shape changes: the same seed draws the same ids either way.
    expect(invoice.id).toBe(basil.data.object.id);
    expect(invoice.customer).toBe(basil.data.object.customer);
  });

  it("marks a failed invoice unpaid with no charge", async () => {
    const invoice = (await render("invoice.payment_failed", "2024-06-20")).data.object;
    expect(invoice.paid).toBe(false);
    expect(invoice.charge).toBeNull();
  });

  it("gives a subscription one billing period at the top, none on its items", async () => {
    const basil = (await render("customer.subscription.updated")).data.object;
    const old = (await render("customer.subscription.updated", "2024-06-20")).data.object;
    expect(basil.current_period_end).toBeUndefined();
    expect(old.current_period_start).toBe(basil.items.data[0].current_period_start);
    expect(old.current_period_end).toBe(basil.items.data[0].current_period_end);
    expect(old.items.data[0].current_period_end).toBeUndefined();
  });

  it("leaves the template itself untouched", async () => {
    const template = (await loadFixture("stripe", "invoice.paid")) as Json;
    const before = JSON.stringify(template);
    stripeTemplateAt(template, "2024-06-20");
    expect(JSON.stringify(template)).toBe(before);
  });
});
