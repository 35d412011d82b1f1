import { describe, expect, it } from "vitest";
import { seededRandom } from "../random/index.ts";
import { STOCK_TEMPLATE_EPOCH, TEMPLATE_STEP_SECONDS, templateClock } from "../webhooks/index.ts";
import { noCascade, redeliver, webhook } from "./define.ts";
import { scenarioSchema } from "./schema.ts";
import { prepareSteps, type Step } from "./steps.ts";

const scenario = scenarioSchema.parse({
  name: "sync",
  webhooks: [
    webhook("customer.created", {}, "first"),
    webhook("customer.subscription.updated"),
    webhook("invoice.paid"),
    redeliver("first"),
  ],
  invariants: [noCascade()],
});

async function bodies(seed: number): Promise<{ body: string; created: unknown }[]> {
  const steps = await prepareSteps(
    scenario,
    process.cwd(),
    seededRandom(seed),
    templateClock(seed),
  );
  return steps.flatMap((s: Step) => {
    if (!("webhook" in s)) return [];
    const body = s.webhook.payload;
    return [{ body, created: (JSON.parse(body) as { created?: unknown }).created }];
  });
}

describe("template times come from the seed", () => {
  it("gives byte-identical bodies for the same seed, on any wall clock", async () => {
    const first = await bodies(1796243268);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await bodies(1796243268);
    expect(second.map((b) => b.body)).toEqual(first.map((b) => b.body));
    const other = await bodies(7);
    expect(other[0]?.created).not.toBe(first[0]?.created);
  });

  it("makes each templated event strictly later than the one before; a redelivery keeps its bytes", async () => {
    const sent = await bodies(42);
    const created = sent.map((b) => b.created as number);
    expect(created.slice(0, 3).every((t) => typeof t === "number")).toBe(true);
    expect(created[1]).toBeGreaterThan(created[0] as number);
    expect(created[2]).toBeGreaterThan(created[1] as number);
    expect(sent[3]?.body).toBe(sent[0]?.body);
  });

  it("starts at a fixed origin per seed after the epoch", () => {
    const clock = templateClock(42);
    expect(clock.origin).toBe(STOCK_TEMPLATE_EPOCH + 42);
    expect(clock.at(2)).toBe(clock.origin + 2 * TEMPLATE_STEP_SECONDS);
    expect(templateClock(-5).origin).toBeGreaterThanOrEqual(STOCK_TEMPLATE_EPOCH);
  });
});

describe("Stripe API versions per step and per run", () => {
  const pinned = scenarioSchema.parse({
    name: "pinned",
    webhooks: [{ fixture: "invoice.paid", apiVersion: "2024-06-20" }, { fixture: "invoice.paid" }],
    invariants: [noCascade()],
  });

  async function versions(runVersion?: "2024-06-20") {
    const steps = await prepareSteps(
      pinned,
      process.cwd(),
      seededRandom(1),
      templateClock(1),
      {},
      runVersion,
    );
    return steps.flatMap((s: Step) =>
      "webhook" in s
        ? [
            JSON.parse(s.webhook.payload) as {
              api_version: string;
              data: { object: { subscription?: string } };
            },
          ]
        : [],
    );
  }

  it("sends a step in its own version's shape, the rest in the run's", async () => {
    const [old, basil] = await versions();
    expect(old?.api_version).toBe("2024-06-20");
    expect(old?.data.object.subscription).toMatch(/^sub_/);
    expect(basil?.api_version).toBe("2025-06-30.basil");
    expect(basil?.data.object.subscription).toBeUndefined();
    const [, pinnedRun] = await versions("2024-06-20");
    expect(pinnedRun?.api_version).toBe("2024-06-20");
  });

  it("refuses a version it has no shape for, naming the ones it has", () => {
    const parsed = scenarioSchema.safeParse({
      name: "bad",
      webhooks: [{ fixture: "invoice.paid", apiVersion: "2020-08-27" }],
      invariants: [noCascade()],
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain("2025-06-30.basil, 2024-06-20");
  });
});
