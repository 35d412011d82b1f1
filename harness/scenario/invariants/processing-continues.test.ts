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

  it("does not count a delivery sent concurrently with the first failure as a later one", async () => {
    // A batch: both in flight at once; the error raised while both were open was the second's.
    const first = delivery("a", 200);
    const overlapping = delivery("b", 500, {
      startedAt: new Date(first.startedAt.getTime() + 2),
      finishedAt: new Date(first.startedAt.getTime() + 30),
    });
    const error = { at: new Date(first.startedAt.getTime() + 5) } as ServerError;
    const after = delivery("c", 200);
    const verdict = await judge([first, overlapping, after], [error]);
    expect(verdict.passed).toBe(true);
    expect(verdict.seen).toBe("1 later webhook(s) all succeeded");
    const broken = await judge([first, overlapping, delivery("d", 500)], [error]);
    expect(broken.passed).toBe(false);
    expect(broken.seen).toBe("1 of 1 later webhook(s) failed");
  });
});
