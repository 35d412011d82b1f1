import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { loadFixture } from "./fixtures.ts";
import { scrubText } from "./scrub.ts";
import { stripeProvider } from "./stripe-provider.ts";
import { fillTemplate } from "./template.ts";

const EMAILS = /[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}/g;
const SCRUBBED_KEYS = new Set([
  "name",
  "first_name",
  "last_name",
  "full_name",
  "user_name",
  "customer_name",
  "fingerprint",
  "phone",
]);

// A hand-written payload with personal data in every place the scrubber knows, written with
// the odd spacing, escapes and number formats that re-serialising would lose.
const PAYLOAD = `{
  "id": "evt_1QXyZ",   "type":"charge.succeeded",
  "amount": 1.50e+2, "currency" :"eur",
  "description": "Refund for ann.lee+vip@acme.co.uk\\nCC: bob@example.org, caf\\u00e9",
  "receipt_url": "https://pay.example/r?email=carol%40shop.io&x=1",
  "customer_details": { "email": "Ann.Lee+VIP@Acme.co.uk", "name": "Ann Lee", "phone": "+44 20 7946 0958" },
  "billing_details": {"name":"Ann Lee","email":null,"phone":null,
    "address": {"line1": "1 Main St", "city": "Springfield"}},
  "shipping": { "name" : "Bob \\"Bobby\\" Tables", "phone": "555-0100" },
  "payment_method_details": { "card": { "brand": "visa", "fingerprint": "Xy12AbCdEf", "last4": "4242" } },
  "metadata": { "first_name": "Ann", "last_name": "Lee", "full_name": "Ann Lee", "user_name": "annlee",
    "customer_name": "Ann Lee", "contact": "dave@corp.example.com" },
  "tags": ["name", "dave@corp.example.com"],
  "product": { "name": "Gold plan" },
  "by_email": { "erin@mail.example": true },
  "note": ""
}`;

/** Every leaf of a parsed JSON value, by path. */
function leaves(value: unknown, at: string[] = [], out = new Map<string, unknown>()) {
  if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) leaves(child, [...at, key], out);
  } else {
    out.set(JSON.stringify(at), value);
  }
  return out;
}

describe("scrubText", () => {
  it("leaves no input email in the output", () => {
    const inputEmails = PAYLOAD.match(EMAILS) ?? [];
    expect(inputEmails.length).toBeGreaterThanOrEqual(6);
    const out = scrubText(PAYLOAD);
    for (const email of inputEmails) expect(out).not.toContain(email);
    expect(out).not.toContain("carol%40shop.io");
    for (const email of out.match(EMAILS) ?? [])
      expect(email).toMatch(/^user-[0-9a-f]{8}@example\.com$/);
  });

  it("still parses, and differs only in personal values", () => {
    const out = scrubText(PAYLOAD);
    const before = leaves(JSON.parse(PAYLOAD));
    const after = leaves(JSON.parse(out));
    // Same keys (except a key that was itself an email) and the same value types.
    const changedKeys = [...before.keys()].filter((k) => !after.has(k));
    expect(changedKeys).toEqual([JSON.stringify(["by_email", "erin@mail.example"])]);
    for (const [key, value] of before) {
      if (!after.has(key)) continue;
      const scrubbed = after.get(key);
      expect(typeof scrubbed).toBe(typeof value);
      if (scrubbed === value) continue;
      const last = (JSON.parse(key) as string[]).at(-1) as string;
      const hadEmail = typeof value === "string" && /@|%40/.test(value);
      expect(SCRUBBED_KEYS.has(last) || hadEmail, `${key} changed`).toBe(true);
    }
    const o = JSON.parse(out);
    expect(o.customer_details.name).toMatch(/^Person [0-9a-f]{6}$/);
    expect(o.customer_details.phone).toMatch(/^\+15550000\d{4}$/);
    expect(o.shipping.name).toMatch(/^Person [0-9a-f]{6}$/);
    expect(o.shipping.phone).toMatch(/^\+15550000\d{4}$/);
    expect(o.payment_method_details.card.fingerprint).toMatch(/^fp_[0-9a-f]{16}$/);
    for (const k of ["first_name", "last_name", "full_name", "user_name", "customer_name"]) {
      expect(o.metadata[k]).toMatch(/^Person [0-9a-f]{6}$/);
    }
    // Null values and values that are not personal stay as they were.
    expect(o.billing_details.email).toBeNull();
    expect(o.billing_details.phone).toBeNull();
    expect(o.billing_details.address).toEqual({ line1: "1 Main St", city: "Springfield" });
    expect(o.payment_method_details.card.last4).toBe("4242");
    expect(o.tags[0]).toBe("name");
    // Any "name" key, so a product's name too: the scrubber cannot tell whose name it is.
    expect(o.product.name).toMatch(/^Person [0-9a-f]{6}$/);
    expect(o.note).toBe("");
    expect(o.description).toMatch(
      /^Refund for user-[0-9a-f]{8}@example\.com\nCC: user-[0-9a-f]{8}@example\.com, café$/,
    );
    expect(o.receipt_url).toMatch(
      /^https:\/\/pay\.example\/r\?email=user-[0-9a-f]{8}%40example\.com&x=1$/,
    );
  });

  it("keeps every other byte as it was", () => {
    const out = scrubText(PAYLOAD);
    // The raw spellings a re-serialisation would change.
    for (const raw of [
      `"id": "evt_1QXyZ",   "type":"charge.succeeded",`,
      `"amount": 1.50e+2, "currency" :"eur",`,
      `, caf\\u00e9"`,
      `"billing_details": {"name":"Person `,
      `"shipping": { "name" : "Person `,
      `"product": { "name": "Person `,
    ]) {
      expect(out).toContain(raw);
    }
    const untouched = `{ "a" : 1.0,\n\t"b": [ "x" , null ], "c": "\\u0041\\/" }`;
    expect(scrubText(untouched)).toBe(untouched);
  });

  it("gives the same fake for the same input and different fakes for different inputs", () => {
    const o = JSON.parse(scrubText(PAYLOAD));
    // "Ann Lee" under four keys, one fake.
    expect(o.billing_details.name).toBe(o.customer_details.name);
    expect(o.metadata.full_name).toBe(o.customer_details.name);
    expect(o.shipping.name).not.toBe(o.customer_details.name);
    // dave@ twice, one fake; ann@ and bob@ different ones.
    expect(o.tags[1]).toBe(o.metadata.contact);
    const [ann, bob] = (o.description as string).match(EMAILS) ?? [];
    expect(ann).not.toBe(bob);
    expect(o.customer_details.phone).not.toBe(o.shipping.phone);
    expect(scrubText(PAYLOAD)).toBe(scrubText(PAYLOAD));
    // The fake is sha256(salt + email), first 8 hex.
    expect(scrubText('"bob@example.org"')).toBe('"user-686b5e4c@example.com"');
    expect(scrubText('"bob@example.org"', "pepper")).not.toBe('"user-686b5e4c@example.com"');
  });

  it("is idempotent: scrubbing scrubbed text changes nothing", () => {
    const once = scrubText(PAYLOAD, "s");
    expect(scrubText(once, "s")).toBe(once);
    expect(scrubText(once)).toBe(once);
  });

  it("replaces emails in text that is not JSON", () => {
    const form = "email=ann%40acme.io&name=Ann&cc=bob@acme.io";
    const out = scrubText(form);
    expect(out).not.toContain("acme.io");
    expect(out).toMatch(
      /^email=user-[0-9a-f]{8}%40example\.com&name=Ann&cc=user-[0-9a-f]{8}@example\.com$/,
    );
  });

  it("scrubs a filled Stripe invoice.paid fixture without touching its ids or amounts", async () => {
    const random = seededRandom(11);
    const values = {
      ...stripeProvider.defaults("invoice.paid", random, 1_790_000_000),
      email: "jane.roe@realcustomer.com",
      name: "Jane Roe",
    };
    const template = await loadFixture("stripe", "invoice.paid");
    const payload = JSON.stringify(fillTemplate(template, values, "invoice.paid"), null, 2);
    expect(payload).toContain("jane.roe@realcustomer.com");
    const out = scrubText(payload);
    expect(out).not.toContain("jane.roe@realcustomer.com");
    expect(out).not.toContain("Jane Roe");
    const before = JSON.parse(payload);
    const after = JSON.parse(out);
    expect(after.id).toBe(before.id);
    expect(after.data.object.id).toBe(before.data.object.id);
    expect(after.data.object.amount_paid).toBe(before.data.object.amount_paid);
    expect(out.length).toBeGreaterThan(payload.length - 200);
  });
});
