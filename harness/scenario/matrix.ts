import type { DriftStep } from "../postgres/index.ts";
import { namedLabel, schemaLabel } from "./axis-labels.ts";
import type { DELIVERY_POLICIES, LoadedScenario, Scenario } from "./schema.ts";

type Matrix = NonNullable<Scenario["matrix"]>;
type SchemaValue = NonNullable<Matrix["schema"]>[number];
type DeliveryValue = NonNullable<Matrix["delivery"]>[number];
type FaultsValue = NonNullable<Matrix["faults"]>[number];

/** One value of one axis, as a cell applies it. */
interface AxisValue {
  label: string;
  apply(scenario: Scenario): Scenario;
}

/** A scenario cell: the scenario as one cell of its matrix runs it. */
export interface ScenarioCell extends LoadedScenario {
  /** Axis → the value's label; absent for a scenario without a matrix. */
  cell?: Record<string, string>;
}

function withAdditions(
  scenario: Scenario,
  additions: { seed?: Scenario["seed"]; invariants?: Scenario["invariants"] },
): Scenario {
  const seed = { ...scenario.seed };
  for (const [table, rows] of Object.entries(additions.seed ?? {}))
    seed[table] = [...(seed[table] ?? []), ...rows];
  return {
    ...scenario,
    seed,
    invariants: [...scenario.invariants, ...(additions.invariants ?? [])],
  };
}

function schemaValue(value: SchemaValue): AxisValue {
  const isNamed = !Array.isArray(value) && "name" in value && typeof value.name === "string";
  const drift: DriftStep[] = isNamed
    ? (value as { drift: DriftStep[] }).drift
    : Array.isArray(value)
      ? value
      : [value as DriftStep];
  return {
    label: schemaLabel(value),
    apply: (scenario) => {
      const next = { ...scenario, drift: [...scenario.drift, ...drift] };
      return isNamed ? withAdditions(next, value as Parameters<typeof withAdditions>[1]) : next;
    },
  };
}

type WebhookStep = Scenario["webhooks"][number];

/** A step that is one webhook (not a rule change, not already a batch). */
function isSingleWebhook(step: WebhookStep): boolean {
  return step.fixture !== undefined || step.redeliver !== undefined || step.recorded !== undefined;
}

/**
 * The scenario's webhooks delivered by `policy`: each run of consecutive single webhooks becomes
 * one batch sent shuffled or concurrently; `duplicated` sends every webhook twice.
 */
export function withDeliveryPolicy(
  webhooks: Scenario["webhooks"],
  policy: (typeof DELIVERY_POLICIES)[number],
): Scenario["webhooks"] {
  if (policy === "inOrder") return webhooks;
  if (policy === "duplicated")
    return webhooks.map((step) =>
      isSingleWebhook(step)
        ? { ...step, duplicates: Math.max(step.duplicates ?? 0, 1) }
        : step.batch
          ? {
              ...step,
              batch: step.batch.map((w) => ({ ...w, duplicates: Math.max(w.duplicates ?? 0, 1) })),
            }
          : step,
    );
  const out: Scenario["webhooks"] = [];
  let run: WebhookStep[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0] as WebhookStep);
    else if (run.length > 1) out.push({ batch: run, order: policy } as WebhookStep);
    run = [];
  };
  for (const step of webhooks) {
    if (isSingleWebhook(step)) run.push(step);
    else {
      flush();
      out.push(step.batch ? { ...step, order: policy } : step);
    }
  }
  flush();
  return out;
}

function deliveryValue(value: DeliveryValue): AxisValue {
  const policy = typeof value === "string" ? value : value.policy;
  return {
    label: namedLabel(value),
    apply: (scenario) => {
      const next = { ...scenario, webhooks: withDeliveryPolicy(scenario.webhooks, policy) };
      return typeof value === "string" ? next : withAdditions(next, value);
    },
  };
}

function faultsValue(value: FaultsValue): AxisValue {
  if (value === "none") return { label: "none", apply: (scenario) => scenario };
  return {
    label: namedLabel(value),
    apply: (scenario) =>
      withAdditions(
        {
          ...scenario,
          faults: {
            seed: value.seed ?? scenario.faults?.seed,
            rules: [...(scenario.faults?.rules ?? []), ...value.rules],
          },
        },
        { invariants: value.invariants },
      ),
  };
}

/** Each axis of a matrix with its values, in a fixed order: schema, delivery, faults. */
export function matrixAxes(matrix: Matrix): [string, AxisValue[]][] {
  const axes: [string, AxisValue[]][] = [];
  if (matrix.schema) axes.push(["schema", matrix.schema.map(schemaValue)]);
  if (matrix.delivery) axes.push(["delivery", matrix.delivery.map(deliveryValue)]);
  if (matrix.faults) axes.push(["faults", matrix.faults.map(faultsValue)]);
  return axes;
}

/**
 * A scenario's cells: itself when it has no matrix, else one per combination of its axes'
 * values (the cartesian product), each a scenario without a matrix.
 */
export function expandMatrix(loaded: LoadedScenario): ScenarioCell[] {
  const { matrix, ...rest } = loaded.scenario;
  if (!matrix) return [loaded];
  let cells: { scenario: Scenario; cell: Record<string, string> }[] = [
    { scenario: rest as Scenario, cell: {} },
  ];
  for (const [axis, values] of matrixAxes(matrix)) {
    cells = cells.flatMap(({ scenario, cell }) =>
      values.map((value) => ({
        scenario: value.apply(scenario),
        cell: { ...cell, [axis]: value.label },
      })),
    );
  }
  return cells.map(({ scenario, cell }) => ({ file: loaded.file, scenario, cell }));
}

/** A cell as one line: `schema: no users.credits_balance, delivery: shuffled`. */
export function describeCell(cell: Record<string, string> | undefined): string {
  return cell
    ? Object.entries(cell)
        .map(([axis, label]) => `${axis}: ${label}`)
        .join(", ")
    : "";
}

/** Whether a cell is one of those `only` names: every axis given has that value's label. */
export function cellMatches(
  cell: Record<string, string> | undefined,
  only: Record<string, string> | undefined,
): boolean {
  if (!only) return true;
  return Object.entries(only).every(([axis, label]) => cell?.[axis] === label);
}
