/**
 * A Stripe `checkout.session.completed` event as Stripe's API lists it (what `faultline import
 * stripe-events` reads): a payment of `credits` by an unknown customer with a real-looking email.
 */
export function checkoutSessionEvent(id: string, credits: number) {
  return {
    id,
    object: "event",
    api_version: "2025-06-30.basil",
    created: 1_790_000_000 + credits,
    type: "checkout.session.completed",
    data: {
      object: {
        id: `cs_test_${id}`,
        object: "checkout.session",
        customer: "cus_Incident0001",
        customer_details: { email: "payer@corp.example", name: "Pat Payer" },
        amount_total: credits * 10,
        metadata: { credits: String(credits) },
      },
    },
  };
}
