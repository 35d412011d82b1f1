import { describe, expect, it } from "vitest";
import { fillTemplate, templateVariables } from "./template.ts";

describe("fillTemplate", () => {
  const template = {
    id: "{{event_id}}",
    n: "{{amount}}",
    url: "https://x/{{event_id}}?s={CHECKOUT_SESSION_ID}",
    list: ["{{amount}}"],
  };

  it("keeps numbers typed in whole-value slots and interpolates text", () => {
    expect(fillTemplate(template, { event_id: "evt_1", amount: 500 }, "t")).toEqual({
      id: "evt_1",
      n: 500,
      url: "https://x/evt_1?s={CHECKOUT_SESSION_ID}",
      list: [500],
    });
  });

  it("names the missing variable and where it was needed", () => {
    expect(() => fillTemplate(template, { event_id: "evt_1" }, "stripe/x.json")).toThrow(
      "stripe/x.json: no value for template variable {{amount}}",
    );
  });

  it("lists the variables a template uses", () => {
    expect(templateVariables(template)).toEqual(["event_id", "amount"]);
  });
});
