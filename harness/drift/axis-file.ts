import { writeFile } from "node:fs/promises";
import { BadUsageError } from "../errors.ts";
import type { DriftStep } from "../postgres/index.ts";
import { type Difference, driftToProduction } from "./compare.ts";
import type { ProductionDriftReport } from "./production.ts";

function stepText(step: DriftStep): string {
  if ("dropColumn" in step) return `dropColumn(${JSON.stringify(step.dropColumn)})`;
  if ("dropTable" in step) return `dropTable(${JSON.stringify(step.dropTable)})`;
  if ("renameColumn" in step)
    return `renameColumn(${JSON.stringify(step.renameColumn)}, ${JSON.stringify(step.to)})`;
  if ("stopAtMigration" in step) return `stopAtMigration(${JSON.stringify(step.stopAtMigration)})`;
  return `{ sql: ${JSON.stringify(step.sql)} }`;
}

/** `//` lines, each at most about 100 characters, for the written file's header. */
function commentLines(text: string, indent = ""): string[] {
  return text.split("\n").map((line) => `${indent}// ${line}`.trimEnd());
}

/**
 * The TypeScript module `drift --production --write` writes: a `schema` matrix axis with two
 * cells, production's schema (the migrations' with drift that makes it production's) and the
 * migrations' own, for a scenario to spread into its `matrix` so a gate proves a fix on both.
 */
export function productionAxisModule(report: ProductionDriftReport, command: string): string {
  const steps = driftToProduction(report.differences);
  const used = [
    ...new Set(
      steps.flatMap((s) =>
        "dropColumn" in s ? ["dropColumn"] : "dropTable" in s ? ["dropTable"] : [],
      ),
    ),
  ].sort();
  const unreproduced = report.differences.filter(
    (d): d is Difference & { unreproduced: string } => d.unreproduced !== undefined,
  );
  const lines = [
    ...commentLines(
      [
        `Written by \`${command}\`.`,
        `Production (${report.production}) against the migrations (${report.migrations}):`,
        ...(report.differences.length
          ? report.differences.map((d) => `  ${d.line}`)
          : ["  no difference: both cells have the same schema"]),
        ...(unreproduced.length
          ? [
              "Not restated as drift, so the production cell differs from production there:",
              ...unreproduced.map((d) => `  ${d.object}: ${d.unreproduced}`),
            ]
          : []),
        "",
        "Spread it into a scenario's matrix, and `faultline gate` proves a fix on both schemas:",
        '  import productionSchema from "./<this file>";',
        "  export default defineScenario({ …, matrix: { ...productionSchema } });",
      ].join("\n"),
    ),
    ...(used.length ? [`import { ${used.join(", ")} } from "faultline";`] : []),
    "",
    "/** Two schemas: production's as drift on the migrations', and the migrations' own. */",
    "const productionSchema = {",
    "  schema: [",
    "    {",
    '      name: "production",',
    steps.length ? "      drift: [" : "      drift: [],",
    ...steps.map((s) => `        ${stepText(s)},`),
    ...(steps.length ? ["      ],"] : []),
    "    },",
    '    { name: "migrations", drift: [] },',
    "  ],",
    "};",
    "",
    "export default productionSchema;",
    "",
  ];
  return lines.join("\n");
}

/** Write `text` to `file`, never over a file that is there. */
export async function writeNewFile(file: string, text: string, flag = "--write"): Promise<void> {
  try {
    await writeFile(file, text, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new BadUsageError(
        `${flag} ${file}: the file exists; faultline never overwrites it (remove it or name another)`,
      );
    throw new BadUsageError(`${flag} ${file}: cannot write it: ${(error as Error).message}`);
  }
}
