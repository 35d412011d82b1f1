import type { TemplateValue } from "./template.ts";

/**
 * How a scenario's template value is repeated under load: kept as written, or made unique per
 * request (ids and emails), so thousands of requests are thousands of distinct events and
 * customers rather than one event redelivered. Decided by the value's shape, so it works for
 * any team's variables, not only the providers' own names.
 */
export type VariablePlan =
  | { keep: TemplateValue }
  | { uniqueId: string }
  | { uniqueEmail: { local: string; domain: string } };

const ID_LIKE = /^[a-z]+(?:_[a-z]+)*_[A-Za-z0-9]+$/;
const EMAIL = /^([^@\s]+)@([^@\s]+)$/;

/** Whether `value` is kept or made unique per request. */
export function planVariable(value: TemplateValue): VariablePlan {
  if (typeof value === "string") {
    if (ID_LIKE.test(value)) return { uniqueId: value };
    const email = EMAIL.exec(value);
    if (email) return { uniqueEmail: { local: email[1] as string, domain: email[2] as string } };
  }
  return { keep: value };
}

/** The value for one request; the k6 script's `valueOf` does the same in k6's JavaScript. */
export function freshValue(plan: VariablePlan, suffix: string): TemplateValue {
  if ("uniqueId" in plan) return `${plan.uniqueId}_${suffix}`;
  if ("uniqueEmail" in plan)
    return `${plan.uniqueEmail.local}+${suffix}@${plan.uniqueEmail.domain}`;
  return plan.keep;
}
