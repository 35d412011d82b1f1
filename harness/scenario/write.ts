import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * `file` if nothing is there, else the first free `<name>-2`, `-3`, … beside it: a scenario file
 * someone may have edited since it was written is never overwritten.
 */
export function freeScenarioPath(file: string): string {
  if (!existsSync(file)) return file;
  const ext = file.endsWith(".scenario.ts") ? ".scenario.ts" : path.extname(file);
  const base = file.slice(0, file.length - ext.length);
  for (let n = 2; ; n++) {
    const next = `${base}-${n}${ext}`;
    if (!existsSync(next)) return next;
  }
}

/**
 * Writes a scenario file a person reads: `header` as its doc comment (a comment's end in a
 * line, from SQL or a message, is broken up so it cannot end it early), then `defineScenario` of
 * `scenario`. Fails rather than overwrite a file that appeared meanwhile.
 */
export async function writeScenarioFile(
  file: string,
  header: string[],
  scenario: object,
): Promise<void> {
  const comment = ["/**", ...header.map((text) => ` * ${text.replace(/\*\//g, "* /")}`), " */"];
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    `${comment.join("\n")}\nimport { defineScenario } from "faultline";\n\nexport default defineScenario(${JSON.stringify(scenario, null, 2)});\n`,
    { flag: "wx" },
  );
}
