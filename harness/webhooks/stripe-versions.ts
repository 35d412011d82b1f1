/**
 * Stripe sends an endpoint events in the shape of the API version it is pinned to. The shipped
 * templates are `2025-06-30.basil`; an endpoint pinned to an older version receives older
 * shapes, and a service written against them reads fields basil no longer has. Each older
 * version here is the basil template with Stripe's documented breaking changes undone, so there
 * is one set of templates to keep right, and every difference is named where it is made.
 */

/** The newest shape: what the files in fixtures/webhooks/stripe are. */
export const STRIPE_TEMPLATE_VERSION = "2025-06-30.basil";

/** Versions a scenario or config may ask for, newest first. */
export const STRIPE_API_VERSIONS = [STRIPE_TEMPLATE_VERSION, "2024-06-20"] as const;
export type StripeApiVersion = (typeof STRIPE_API_VERSIONS)[number];

export function isStripeApiVersion(value: string): value is StripeApiVersion {
  return (STRIPE_API_VERSIONS as readonly string[]).includes(value);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The template (its `{{variables}}` untouched) in `version`'s shape, `api_version` set to match.
 * The input is not modified.
 */
export function stripeTemplateAt(template: unknown, version: StripeApiVersion): unknown {
  const event = structuredClone(template) as Json;
  if (!isObject(event)) return event;
  event.api_version = version;
  if (version === STRIPE_TEMPLATE_VERSION) return event;
  const data = event.data;
  const object = isObject(data) ? data.object : undefined;
  if (!isObject(object)) return event;
  if (object.object === "invoice") toAcaciaInvoice(object);
  if (object.object === "subscription") toAcaciaSubscription(object);
  if (object.object === "charge") {
    // 2025-03-31.basil, multiple partial payments: removed `invoice` from Charge.
    object.invoice ??= null;
  }
  return event;
}

/** Before 2025-03-31.basil, an invoice named its subscription and its payment at the top. */
function toAcaciaInvoice(invoice: Json): void {
  // basil "adds new parent field to invoicing objects": `parent.subscription_details` replaced
  // the invoice's `subscription`, `subscription_details`, `quote` and
  // `subscription_proration_date`.
  const parent = isObject(invoice.parent) ? invoice.parent : undefined;
  const details =
    parent && isObject(parent.subscription_details) ? parent.subscription_details : undefined;
  invoice.subscription = details?.subscription ?? null;
  invoice.subscription_details = { metadata: details?.metadata ?? {} };
  invoice.quote = null;
  delete invoice.parent;
  // basil "multiple partial payments on invoices": removed `charge`, `payment_intent`, `paid`
  // and `paid_out_of_band` (now under `invoice.payments`).
  const paid = invoice.status === "paid";
  invoice.paid = paid;
  invoice.paid_out_of_band = false;
  invoice.charge = paid ? "{{charge}}" : null;
  invoice.payment_intent = "{{payment_intent}}";
  delete invoice.amount_overpaid;
  const lines =
    isObject(invoice.lines) && Array.isArray(invoice.lines.data) ? invoice.lines.data : [];
  for (const line of lines) if (isObject(line)) toAcaciaLine(line);
}

function toAcaciaLine(line: Json): void {
  // basil parent field: the line's `type`, `subscription`, `subscription_item`, `invoice_item`,
  // `proration` and `proration_details` moved under `parent.subscription_item_details`.
  const parent = isObject(line.parent) ? line.parent : undefined;
  const item =
    parent && isObject(parent.subscription_item_details)
      ? parent.subscription_item_details
      : undefined;
  line.type = item ? "subscription" : "invoiceitem";
  line.subscription = item?.subscription ?? line.subscription ?? null;
  line.subscription_item = item?.subscription_item ?? null;
  line.invoice_item = item?.invoice_item ?? null;
  line.proration = item?.proration ?? false;
  line.proration_details = item?.proration_details ?? { credited_items: null };
  delete line.parent;
  // basil: line items lost `tax_amounts` (for `taxes`) and `amount_excluding_tax` /
  // `unit_amount_excluding_tax`, and `price` became `pricing.price_details`.
  line.tax_amounts = [];
  line.amount_excluding_tax = line.amount;
  line.unit_amount_excluding_tax = isObject(line.pricing) ? line.pricing.unit_amount_decimal : null;
  const pricing = isObject(line.pricing) ? line.pricing : undefined;
  const priceDetails =
    pricing && isObject(pricing.price_details) ? pricing.price_details : undefined;
  line.price = priceDetails
    ? {
        id: priceDetails.price,
        object: "price",
        active: true,
        billing_scheme: "per_unit",
        currency: line.currency ?? "usd",
        livemode: false,
        product: priceDetails.product,
        recurring: { interval: "month", interval_count: 1, usage_type: "licensed" },
        type: "recurring",
        unit_amount: line.amount,
        unit_amount_decimal: pricing?.unit_amount_decimal ?? null,
      }
    : null;
  line.plan = null;
  delete line.pricing;
  delete line.taxes;
  delete line.pretax_credit_amounts;
}

/** Before 2025-03-31.basil, a subscription had one billing period, at the top. */
function toAcaciaSubscription(subscription: Json): void {
  // basil "deprecate subscription current period start and end": the period moved to each
  // subscription item (`items.data[].current_period_start/end`).
  const items =
    isObject(subscription.items) && Array.isArray(subscription.items.data)
      ? subscription.items.data
      : [];
  const first = items.find(isObject);
  subscription.current_period_start =
    first?.current_period_start ?? subscription.start_date ?? null;
  subscription.current_period_end = first?.current_period_end ?? null;
  for (const item of items) {
    if (!isObject(item)) continue;
    delete item.current_period_start;
    delete item.current_period_end;
  }
}
