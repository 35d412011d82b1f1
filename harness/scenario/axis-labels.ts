import { type DriftStep, describeDrift } from "../postgres/index.ts";

// What a matrix value is called in reports and CI test names. Apart from matrix.ts so that the
// scenario schema can check labels are unique without importing what imports it.

/** A `schema` axis value: a drift step, a list of them, or `{ name, drift, … }`. */
export function schemaLabel(value: unknown): string {
  if (isNamed(value)) return value.name;
  const drift = Array.isArray(value) ? (value as DriftStep[]) : [value as DriftStep];
  return drift.length ? drift.map(describeDrift).join(", ") : "as migrated";
}

/** A `delivery` or `faults` axis value: a policy name (`"none"`), or `{ name, … }`. */
export function namedLabel(value: unknown): string {
  return typeof value === "string" ? value : isNamed(value) ? value.name : String(value);
}

function isNamed(value: unknown): value is { name: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { name?: unknown }).name === "string"
  );
}

/** Each axis of a matrix with its values' labels, in a fixed order: schema, delivery, faults. */
export function matrixLabels(matrix: {
  schema?: unknown[];
  delivery?: unknown[];
  faults?: unknown[];
}): [string, string[]][] {
  const axes: [string, string[]][] = [];
  if (matrix.schema) axes.push(["schema", matrix.schema.map(schemaLabel)]);
  if (matrix.delivery) axes.push(["delivery", matrix.delivery.map(namedLabel)]);
  if (matrix.faults) axes.push(["faults", matrix.faults.map(namedLabel)]);
  return axes;
}
