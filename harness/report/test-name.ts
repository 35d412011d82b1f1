import { describeCell } from "../scenario/matrix.ts";

/** A result's name in reports: the scenario's, with its matrix cell when it has one. */
export function testName(result: { name: string; cell?: Record<string, string> }): string {
  return result.cell ? `${result.name} [${describeCell(result.cell)}]` : result.name;
}
