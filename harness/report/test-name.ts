import type { ScenarioResult } from "../scenario/index.ts";

/** A matrix cell as text: `schema: no users.credits_balance, delivery: shuffled`. */
export function cellLabel(cell: Record<string, string>): string {
  return Object.entries(cell)
    .map(([axis, value]) => `${axis}: ${value}`)
    .join(", ");
}

/** A result's name in reports: the scenario's, with its matrix cell when it has one. */
export function testName(result: ScenarioResult): string {
  return result.cell ? `${result.name} [${cellLabel(result.cell)}]` : result.name;
}
