import { describe, expect, it } from "vitest";
import type { ServerError } from "../../postgres/index.ts";
import type { Delivery } from "../../webhooks/index.ts";
import type { InvariantContext } from "./invariant.ts";
import { processingContinues } from "./processing-continues.ts";

let clock = Date.parse("2026-12-03T00:00:00Z");
function delivery(label: string, status: number, extra: Partial<Delivery> = {}): Delivery {
  clock += 1000;
  const startedAt = new Date(clock);
  return {
    index: 0,
    label,
    eventId: label,
    type: "invoice.paid",
    attempt: 1,
    status,
    responseBody: "",
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 10),
    ...extra,
  };
}

function judge(deliveries: Delivery[], serverErrors: ServerError[] = []) {
  const context = { deliveries, serverErrors } as unknown as InvariantContext;
  return processingContinues.evaluate({ invariant: "processingContinues" }, context, undefined);
}

describe("processingContinues", () => {
  it("does not take a forged delivery's correct 400 as the first failure", async () => {
    const verdict = await judge([
      delivery("forged", 400, { signature: "wrongSecret" }),
      delivery("a", 200),
      delivery("b", 200),
    ]);
    expect(verdict.passed).toBe(true);
    expect(verdict.seen).toBe("no webhook failed");
  });

  it("does not count a forged delivery's 400 as a later failure either", async () => {
    const verdict = await judge([
      delivery("a", 500),
      delivery("forged", 400, { signature: "stale" }),
      delivery("b", 200),
    ]);
    expect(verdict.passed).toBe(true);
    expect(verdict.seen).toBe("1 later webhook(s) all succeeded");
  });

  it("still fails when a real delivery fails after the first failure", async () => {
    const verdict = await judge([
      delivery("forged", 400, { signature: "tampered" }),
      delivery("a", 500),
      delivery("b", 500),
    ]);
    expect(verdict.passed).toBe(false);
    expect(verdict.evidence.join("\n")).toContain("first failure");
    expect(verdict.seen).toBe("1 of 1 later webhook(s) failed");
  });
});
