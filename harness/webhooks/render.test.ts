import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { loadFixture } from "./fixtures.ts";
import { renderFixture } from "./render.ts";
import { stripeProvider } from "./stripe-provider.ts";

describe("renderFixture", () => {
  const options = (seed: number) => ({
    provider: stripeProvider,
    fixture: "checkout.session.completed",
    random: seededRandom(seed),
    nowSeconds: 1_800_000_000,
    where: "stripe/checkout.session.completed",
  });

  it("fills a shipped template from the seed, given values winning, pretty-printed", async () => {
    const template = await loadFixture("stripe", "checkout.session.completed");
    const a = renderFixture(template, { ...options(3), given: { email: "known@example.com" } });
    const body = JSON.parse(a.payload);
    expect(a.payload).toBe(JSON.stringify(body, null, 2));
    expect(a.eventId).toBe(body.id);
    expect(a.type).toBe("checkout.session.completed");
    expect(body.data.object.customer_email).toBe("known@example.com");
    expect(body.data.object.amount_total).toBe(1000);
    expect(body.created).toBe(1_800_000_000);
    expect(a.values.email).toBe("known@example.com");
    expect(renderFixture(template, options(3)).eventId).toBe(a.eventId);
    expect(renderFixture(template, options(4)).eventId).not.toBe(a.eventId);
  });

  it("names where and every variable nobody fills, and what the provider does fill", () => {
    expect(() =>
      renderFixture({ a: "{{nope}}", b: "x {{event_id}} {{other}}" }, options(1)),
    ).toThrow(
      "stripe/checkout.session.completed: no value for template variables {{nope}}, {{other}}; the stripe provider fills event_id, object_id, customer,",
    );
  });
});
