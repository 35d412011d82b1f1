import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { fixtureNames, loadFixture } from "./fixtures.ts";
import { webhookProviders } from "./index.ts";
import { renderFixture } from "./render.ts";
import { stripeProvider } from "./stripe-provider.ts";
import { fillTemplate, type TemplateValue } from "./template.ts";

/** What renderFixture gave before templates were compiled: fill the whole body, then print it. */
function slowRender(template: unknown, values: Record<string, TemplateValue>) {
  return JSON.stringify(fillTemplate(template, values, "test"), null, 2);
}

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

  it("prints every shipped fixture byte for byte as filling and printing the whole body does", async () => {
    let checked = 0;
    for (const [name, provider] of Object.entries(webhookProviders)) {
      for (const fixture of await fixtureNames(name)) {
        const template = await loadFixture(name, fixture);
        for (const seed of [1, 2]) {
          const rendered = renderFixture(template, {
            provider,
            fixture,
            random: seededRandom(seed),
            nowSeconds: 1_800_000_000,
            where: `${name}/${fixture}`,
          });
          const body = JSON.parse(rendered.payload);
          expect(rendered.payload).toBe(slowRender(template, rendered.values));
          expect(rendered.eventId).toBe(
            body.id != null
              ? String(body.id)
              : body.event_id != null
                ? String(body.event_id)
                : undefined,
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it("escapes interpolated text and falls back for values that do not print alone", () => {
    const template = {
      id: "{{event_id}}",
      note: 'said "{{name}}"\n at {{created}}',
      list: ["{{amount_total}}", "{{given_object}}", "{{missing_value}}"],
      nested: { given: "{{given_object}}", gone: "{{missing_value}}", empty: [], none: {} },
    };
    const given = {
      name: 'Ann "Quote" \\ O\'Neil',
      given_object: { a: [1, 2] } as unknown as TemplateValue,
      missing_value: undefined as unknown as TemplateValue,
    };
    const rendered = renderFixture(template, { ...options(5), given });
    expect(rendered.payload).toBe(slowRender(template, rendered.values));
    expect(JSON.parse(rendered.payload).note).toBe(`said "${given.name}"\n at 1800000000`);
    const plain = renderFixture(template, {
      ...options(5),
      given: { ...given, given_object: 7, missing_value: null },
    });
    expect(plain.payload).toBe(slowRender(template, plain.values));
    const withNul = { id: "{{event_id}}", text: "a\u0000b {{customer}}" };
    const nul = renderFixture(withNul, options(6));
    expect(nul.payload).toBe(slowRender(withNul, nul.values));
    expect(nul.eventId).toBe(nul.values.event_id);
  });
});
