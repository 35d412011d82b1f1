import { z } from "zod";
import type { DriftStep } from "../postgres/index.ts";
import { ruleSchema, rulesFileSchema } from "../proxy/index.ts";
import { isStripeApiVersion, STRIPE_API_VERSIONS } from "../webhooks/stripe-versions.ts";
import { matrixLabels } from "./axis-labels.ts";
import { invariantSpecSchema } from "./invariants/index.ts";

const identifierRef = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$/,
    "expected a name like users or users.credits_balance",
  );

const driftStep = z
  .strictObject({
    dropColumn: identifierRef.optional(),
    dropTable: identifierRef.optional(),
    renameColumn: identifierRef.optional(),
    to: z.string().min(1).optional(),
    /** The first N migrations (NNN for plain folders), or a migration by name or version. */
    stopAtMigration: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
    sql: z.string().min(1).optional(),
  })
  .superRefine((step, ctx) => {
    const kinds = (
      ["dropColumn", "dropTable", "renameColumn", "stopAtMigration", "sql"] as const
    ).filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `expected exactly one of dropColumn, dropTable, renameColumn, stopAtMigration, sql; got ${kinds.join(", ") || "none"}`,
      });
    }
    if ((step.renameColumn !== undefined) !== (step.to !== undefined)) {
      ctx.addIssue({ code: "custom", message: "renameColumn and to go together" });
    }
    if (step.dropColumn && !step.dropColumn.includes("."))
      ctx.addIssue({ code: "custom", path: ["dropColumn"], message: 'expected "table.column"' });
    if (step.renameColumn && !step.renameColumn.includes("."))
      ctx.addIssue({ code: "custom", path: ["renameColumn"], message: 'expected "table.column"' });
  })
  .transform((step) => step as DriftStep);

const templateValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** How one webhook is delivered: copies, provider-style retries, a broken signature. */
const deliveryPolicy = {
  /** Send this many extra copies of the same event (at the same instant in a concurrent batch). */
  duplicates: z.number().int().min(1).max(50).optional(),
  /** On a non-2xx or a timeout, redeliver on the provider's schedule, compressed in time. */
  retry: z
    .strictObject({
      like: z.enum(["stripe"]).default("stripe"),
      /** Real delays are multiplied by this (1e-5 turns Stripe's three days into ~2.6 s). */
      timeScale: z.number().positive().max(1).default(1e-5),
      /** Give up after this many attempts even if the provider would go on. */
      maxAttempts: z.number().int().min(1).max(100).optional(),
    })
    .optional(),
  /** Sign it wrongly, to check the service rejects it. */
  signature: z.enum(["wrongSecret", "stale", "tampered"]).optional(),
};

const singleWebhook = {
  /** A name for this webhook, so a later step can redeliver it and reports can cite it. */
  as: z.string().min(1).optional(),
  provider: z.string().min(1).optional(),
  /** A recorded payload: fixtures/webhooks/<provider>/<fixture>.json. */
  fixture: z.string().min(1).optional(),
  /** Values for the fixture's template variables. */
  with: z.record(z.string(), templateValue).optional(),
  /** Send an earlier webhook's exact bytes again (signed afresh), by its `as`. */
  redeliver: z.string().min(1).optional(),
  /**
   * Send a recorded request's exact bytes (from `faultline record` or `import`), re-signed: the
   * fixture's path without extension, relative to the scenario file, e.g. "incident/003-checkout-session-completed".
   */
  recorded: z.string().min(1).optional(),
  /** The path to post it to, when not the config's (or the provider's) path for its provider. */
  path: z.string().regex(/^\//, 'expected a path starting with "/"').optional(),
  /** Stripe only: the API version whose shape the fixture is sent in (else the config's). */
  apiVersion: z
    .string()
    .refine(isStripeApiVersion, {
      message: `expected a Stripe API version faultline has the shape of: ${STRIPE_API_VERSIONS.join(", ")}`,
    })
    .optional(),
  ...deliveryPolicy,
};

function checkWebhook(
  step: {
    fixture?: string;
    redeliver?: string;
    recorded?: string;
    with?: unknown;
    provider?: string;
    as?: string;
    path?: string;
  },
  ctx: z.RefinementCtx,
): void {
  const sources = [step.fixture, step.redeliver, step.recorded].filter((x) => x !== undefined);
  if (sources.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message:
        "expected exactly one of fixture (a new webhook), redeliver (an earlier one's `as`) or recorded (a recorded request)",
    });
  }
  if (step.recorded !== undefined && step.with) {
    ctx.addIssue({
      code: "custom",
      message: "a recorded request is sent byte for byte: it takes no with",
    });
  }
  if (step.redeliver !== undefined && (step.with || step.provider || step.as || step.path)) {
    ctx.addIssue({
      code: "custom",
      message:
        "a redelivery sends the original bytes to the same path: it takes no with, provider, as or path",
    });
  }
}

const batchedWebhook = z.strictObject(singleWebhook).superRefine(checkWebhook);

const webhookStep = z
  .strictObject({
    ...singleWebhook,
    /** Put a proxy rule in force from this point of the scenario on. */
    addRule: ruleSchema.optional(),
    /** Take a proxy rule (by name) out of force. */
    removeRule: z.string().min(1).optional(),
    /** Several webhooks delivered together, in the order `order` says. */
    batch: z.array(batchedWebhook).min(1).optional(),
    /** inOrder (the default), shuffled (by the run's seed), or concurrent (all at once). */
    order: z.enum(["inOrder", "shuffled", "concurrent"]).optional(),
  })
  .superRefine((step, ctx) => {
    const kinds = (
      ["fixture", "redeliver", "recorded", "addRule", "removeRule", "batch"] as const
    ).filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `expected exactly one of fixture (a new webhook), redeliver (an earlier one's \`as\`), recorded, addRule, removeRule or batch; got ${kinds.join(", ") || "none"}`,
      });
      return;
    }
    if (step.order !== undefined && step.batch === undefined)
      ctx.addIssue({ code: "custom", path: ["order"], message: "order goes with batch" });
    const policy =
      step.duplicates !== undefined || step.retry !== undefined || step.signature !== undefined;
    if (
      (step.addRule || step.removeRule || step.batch) &&
      (step.with || step.provider || step.as || step.path || policy)
    ) {
      ctx.addIssue({
        code: "custom",
        message:
          "a rule or batch step takes no with, provider, as, path, duplicates, retry or signature",
      });
    }
    if (step.fixture !== undefined || step.redeliver !== undefined || step.recorded !== undefined)
      checkWebhook(step, ctx);
  });

const row = z.record(z.string(), z.unknown());

/** What any axis value may add to its cells: rows to seed and invariants to check. */
const cellAdditions = {
  /** Rows inserted in this cell, after the scenario's own `seed`. */
  seed: z.record(z.string(), z.array(row)).optional(),
  /** Invariants checked in this cell besides the scenario's own. */
  invariants: z.array(invariantSpecSchema).optional(),
};

const axisName = z.string().min(1).max(60);

/** One schema of a matrix: drift steps, one step, or a named set with its own seed and invariants. */
const schemaAxisValue = z.union([
  z.strictObject({ name: axisName, drift: z.array(driftStep).default([]), ...cellAdditions }),
  z.array(driftStep),
  driftStep,
]);

/** How a cell delivers the scenario's consecutive webhooks. */
export const DELIVERY_POLICIES = ["inOrder", "shuffled", "concurrent", "duplicated"] as const;
const deliveryAxisValue = z.union([
  z.enum(DELIVERY_POLICIES),
  z.strictObject({ name: axisName, policy: z.enum(DELIVERY_POLICIES), ...cellAdditions }),
]);

/** A cell's faults: none, or rules (the rules-file shape) under a name. */
const faultsAxisValue = z.union([
  z.literal("none"),
  z.strictObject({
    name: axisName,
    rules: z.array(ruleSchema).default([]),
    seed: z.number().int().nonnegative().optional(),
    invariants: cellAdditions.invariants,
  }),
]);

/**
 * Axes a scenario runs across, each cell on its own database: the cartesian product of every
 * axis given. An axis left out is one value: the scenario as written.
 */
const matrixSchema = z
  .strictObject({
    schema: z.array(schemaAxisValue).min(1).optional(),
    delivery: z.array(deliveryAxisValue).min(1).optional(),
    faults: z.array(faultsAxisValue).min(1).optional(),
  })
  .refine((m) => m.schema || m.delivery || m.faults, {
    message: "expected at least one axis: schema, delivery or faults",
  });

/** The validated shape of a scenario file's default export. */
export const scenarioSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .regex(/^[a-z0-9][a-z0-9-]*$/, "expected kebab-case, like credits-balance-missing"),
    description: z.string().optional(),
    /** Seed for ids and other random choices; the run's --seed overrides it. */
    randomSeed: z.number().int().nonnegative().optional(),
    drift: z.array(driftStep).default([]),
    /** Rows inserted after drift and before the service starts, table by table in key order. */
    seed: z.record(z.string(), z.array(row)).default({}),
    webhooks: z.array(webhookStep).min(1),
    /** Faults injected by the proxy between the service and Postgres: the rules-file shape. */
    faults: rulesFileSchema.optional(),
    invariants: z.array(invariantSpecSchema).min(1),
    /** Webhook signing secret handed to the service; random when absent. */
    webhookSecret: z.string().min(1).optional(),
    /** Run once per cell of these axes (schemas, delivery policies, fault sets). */
    matrix: matrixSchema.optional(),
    /**
     * For `faultline gate`: a guard, not a reproduction. It must pass on the baseline as well as
     * the candidate, so "passes on both" is the outcome wanted rather than "does not reproduce".
     */
    mustPassOnBaseline: z.boolean().optional(),
  })
  .superRefine((scenario, ctx) => {
    // Cells are told apart by their labels, in reports and in CI test names.
    for (const [axis, labels] of scenario.matrix ? matrixLabels(scenario.matrix) : []) {
      const seen = new Set<string>();
      labels.forEach((label, index) => {
        if (seen.has(label))
          ctx.addIssue({
            code: "custom",
            path: ["matrix", axis, index],
            message: `two values of this axis are both called ${JSON.stringify(label)}; give one a name`,
          });
        seen.add(label);
      });
    }
    const named = new Set<string>();
    const flat = scenario.webhooks.flatMap((step, index) =>
      step.batch
        ? step.batch.map((inner, i) => ({ step: inner, path: ["webhooks", index, "batch", i] }))
        : [{ step, path: ["webhooks", index] }],
    );
    flat.forEach(({ step, path }) => {
      if (step.redeliver !== undefined && !named.has(step.redeliver)) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "redeliver"],
          message: `no earlier webhook has as: ${JSON.stringify(step.redeliver)}`,
        });
      }
      if (step.as !== undefined) {
        if (named.has(step.as))
          ctx.addIssue({
            code: "custom",
            path: [...path, "as"],
            message: `${JSON.stringify(step.as)} is used twice`,
          });
        named.add(step.as);
      }
    });
  });

/** What a scenario file writes (defaults may be left out). */
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** A scenario after validation. */
export type Scenario = z.output<typeof scenarioSchema>;

/** A validated scenario and the file it came from. */
export interface LoadedScenario {
  file: string;
  scenario: Scenario;
}

/** Turn zod issues into one message per field: `field "webhooks[2].fixure": unknown field`. */
export function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const base = pathText(issue.path);
      if (issue.code === "unrecognized_keys") {
        return issue.keys
          .map((key) => `field "${base ? `${base}.` : ""}${key}": unknown field`)
          .join("; ");
      }
      return `field "${base || "(top level)"}": ${issue.message}`;
    })
    .join("; ");
}

function pathText(path: PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
    .join("");
}
