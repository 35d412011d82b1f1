import { readFile } from "node:fs/promises";
import path from "node:path";
import { validateXML } from "xmllint-wasm";
import { ROOT } from "./cli.ts";

/**
 * The JUnit schemas a report must satisfy: Jenkins' (what its xUnit plugin validates with) and
 * Windy Road's (Ant's format, the strictest common reading: it requires timestamp, hostname,
 * properties, system-out and system-err). See test/fixtures/junit/README.md for their origin.
 */
export const JUNIT_SCHEMAS = {
  jenkins: "jenkins-junit-10.xsd",
  windyroad: "windyroad-JUnit.xsd",
} as const;

/** A schema by its short name. */
export type JunitSchema = keyof typeof JUNIT_SCHEMAS;

/**
 * Validate JUnit XML with libxml2 (xmllint compiled to WebAssembly: no native build) against
 * each schema. Returns the errors, each naming the schema and the report's line; none when valid.
 */
export async function validateJunit(
  xml: string,
  schemas: readonly JunitSchema[] = ["jenkins", "windyroad"],
): Promise<string[]> {
  const errors: string[] = [];
  for (const schema of schemas) {
    const file = JUNIT_SCHEMAS[schema];
    const contents = await readFile(path.join(ROOT, "test", "fixtures", "junit", file), "utf8");
    const result = await validateXML({
      xml: { fileName: "report.xml", contents: xml },
      schema: { fileName: file, contents },
    });
    if (!result.valid) {
      const found = result.errors.map((e) => `${file}: ${e.rawMessage}`);
      // A document that does not even parse may come back invalid with no itemised error.
      errors.push(...(found.length ? found : [`${file}: ${result.rawOutput.trim() || "invalid"}`]));
    }
  }
  return errors;
}
